package contractexec

import (
	"fmt"
	"os"
	"syscall"
)

// socketPair returns a connected AF_UNIX pair of the given type: the parent's end, non-blocking and
// registered with the Go poller (so reads honour deadlines and Close unblocks them), and the child's
// end, left blocking because the contract library does plain blocking reads and writes on it. The
// two ends are separate open file descriptions, so their O_NONBLOCK flags are independent.
func socketPair(typ int, name string) (parent, child *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair for %s: %w", name, err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("set non-blocking on %s: %w", name, err)
	}
	return os.NewFile(uintptr(fds[0]), name), os.NewFile(uintptr(fds[1]), name+"(child)"), nil
}

// closeAll closes every non-nil file.
func closeAll(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}
