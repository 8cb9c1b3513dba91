package contractexec

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// inputAlign is HotPocket's buffer_store alignment: every input starts on a 4 KiB boundary.
const inputAlign = 4096

// writeInputs creates the input memfd and writes every user's inputs at 4 KiB-aligned offsets, in
// Spec order, returning the file and each input's span. The contract reads them with pread, so the
// file offset does not matter.
func writeInputs(users []User) (*os.File, [][]span, error) {
	fd, err := unix.MemfdCreate("hp_user_inputs", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hp_user_inputs")
	spans := make([][]span, len(users))
	var pos uint64
	for i, u := range users {
		spans[i] = make([]span, len(u.Inputs))
		for j, in := range u.Inputs {
			if len(in) > 0 {
				if _, err := f.WriteAt(in, int64(pos)); err != nil {
					f.Close()
					return nil, nil, fmt.Errorf("write input %d of user %s: %w", j, u.PublicKey, err)
				}
			}
			spans[i][j] = span{off: pos, len: uint64(len(in))}
			pos = alignUp(pos+uint64(len(in)), inputAlign)
		}
	}
	return f, spans, nil
}

// alignUp rounds n up to a multiple of a (a power of two).
func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }
