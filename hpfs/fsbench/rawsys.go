package fsbench

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The workloads' hot loops make their system calls raw, the way fsbench.py's Python (or any C
// program) makes them: a Go system call that blocks for more than 20 µs (every FUSE round trip)
// lets the runtime's monitor hand the thread's P to another thread, and getting it back costs
// futex wake-ups and thread switches on the client's side (measured with strace: ~1.5 futex and
// ~1.3 nanosleep calls per created file, on a 2-core machine the daemon shares). The loops are
// single-goroutine, so holding the P through a blocking call stops nothing else.

func rawOpen(path string, flags int, mode uint32) (int, error) {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	dirfd := unix.AT_FDCWD // a variable: the negative constant does not convert to uintptr
	fd, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(flags|syscall.O_CLOEXEC), uintptr(mode), 0, 0)
	if e != 0 {
		return -1, &os.PathError{Op: "open", Path: path, Err: e}
	}
	return int(fd), nil
}

func rawPwrite(fd int, b []byte, off int64) error {
	n, _, e := syscall.RawSyscall6(unix.SYS_PWRITE64, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))),
		uintptr(len(b)), uintptr(off), 0, 0)
	if e != 0 {
		return e
	}
	if int(n) != len(b) {
		return syscall.EIO
	}
	return nil
}

func rawWrite(fd int, b []byte) error {
	n, _, e := syscall.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return e
	}
	if int(n) != len(b) {
		return syscall.EIO
	}
	return nil
}

func rawPread(fd int, b []byte, off int64) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_PREAD64, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))),
		uintptr(len(b)), uintptr(off), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func rawClose(fd int) error {
	if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 {
		return e
	}
	return nil
}

func rawStat(path string, st *unix.Stat_t) error {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	dirfd := unix.AT_FDCWD
	_, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(st)), 0, 0, 0)
	if e != 0 {
		return &os.PathError{Op: "stat", Path: path, Err: e}
	}
	return nil
}
