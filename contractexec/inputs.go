package contractexec

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// inputAlign is HotPocket's buffer_store alignment: every input starts on a 4 KiB boundary.
const inputAlign = 4096

// maxIovecs is the most iovecs one pwritev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// writeInputs creates the input memfd and writes every user's inputs at 4 KiB-aligned offsets, in
// Spec order, returning the file and each input's span. The contract reads them with pread, so the
// file offset does not matter. Inputs and their zero padding go out as one contiguous pwritev per
// 1,024 iovecs: a syscall per input costs more than the copy for the small inputs that dominate.
func writeInputs(users []User) (*os.File, [][]span, error) {
	fd, err := unix.MemfdCreate("hp_user_inputs", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hp_user_inputs")
	spans := make([][]span, len(users))
	zeroPad := make([]byte, inputAlign) // padding between an input's end and the next boundary
	var (
		pos      uint64 // next input's offset
		batchOff uint64 // file offset of iovs[0]
		iovs     [][]byte
	)
	flush := func() error {
		for len(iovs) > 0 {
			n, err := unix.Pwritev(fd, iovs, int64(batchOff))
			if err != nil {
				return fmt.Errorf("write inputs at %d: %w", batchOff, err)
			}
			batchOff += uint64(n)
			for n > 0 { // drop what was written, keeping a partly written iovec's rest
				if n >= len(iovs[0]) {
					n -= len(iovs[0])
					iovs = iovs[1:]
				} else {
					iovs[0] = iovs[0][n:]
					n = 0
				}
			}
		}
		return nil
	}
	for i, u := range users {
		spans[i] = make([]span, len(u.Inputs))
		for j, in := range u.Inputs {
			spans[i][j] = span{off: pos, len: uint64(len(in))}
			next := alignUp(pos+uint64(len(in)), inputAlign)
			if len(in) > 0 {
				iovs = append(iovs, in)
			}
			if pad := next - pos - uint64(len(in)); pad > 0 {
				iovs = append(iovs, zeroPad[:pad])
			}
			pos = next
			if len(iovs) >= maxIovecs-1 {
				if err := flush(); err != nil {
					f.Close()
					return nil, nil, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, spans, nil
}

// alignUp rounds n up to a multiple of a (a power of two).
func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }
