package hpfs

import (
	"slices"
)

// encodeSparseSlot returns exactly what encodeSparse(data) returns, for a leaf that was built by
// applying sl's memory extents to zeroed memory (scratch.sparseInto): only the 64-byte blocks
// those extents touch can hold a non-zero byte, so only they are compared. A leaf of a sparse
// file with five 5-byte writes then costs five block compares instead of a scan of 1,024 blocks
// (a third of the CPU of committing 5,000 such writes went to that scan).
//
// The blocks it skips are zero, which encodeSparse skips too, so both give the same bytes; a test
// holds the two equal.
func encodeSparseSlot(data []byte, sl *slot) []byte {
	if len(data)/2 < 16 {
		return nil
	}
	blocks := make([]int, 0, 2*len(sl.ext))
	for _, e := range sl.ext {
		lo, hi := e.at, min(e.at+uint64(len(e.b)), uint64(len(data)))
		if lo >= hi {
			continue
		}
		for b := lo / sparseBlock; b <= (hi-1)/sparseBlock; b++ {
			blocks = append(blocks, int(b))
		}
	}
	slices.Sort(blocks)
	return encodeSparseBlocks(data, slices.Values(slices.Compact(blocks)))
}
