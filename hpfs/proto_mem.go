package hpfs

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeAlloc returns a zeroed slice of length n, from hugeAllocMin bytes 2 MiB-aligned and advised
// as transparent huge pages: a proof response read into fresh memory otherwise costs a page fault
// per 4 KiB (see newHugeBatch for the measurements). The advice is only advice.
func hugeAlloc(n int) []byte {
	if n < hugeAllocMin {
		return make([]byte, n)
	}
	raw := make([]byte, n+hugePage)
	off := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	buf := raw[off : off+n : off+n]
	_ = unix.Madvise(buf[:n/hugePage*hugePage], unix.MADV_HUGEPAGE)
	return buf
}

// hugeAllocMin is the size from which hugeAlloc asks for huge pages.
const hugeAllocMin = 1 << 20
