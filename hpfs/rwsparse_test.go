package hpfs

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestEncodeSparseSlotEqualsEncodeSparse: for random slots (overlapping extents, zero bytes
// written, extents past the leaf's length, dense and sparse leaves, short last leaves) the
// block-skipping encoder returns the same bytes as the full scan.
func TestEncodeSparseSlotEqualsEncodeSparse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var sparse, raw int
	for i := range 3000 {
		n := uint64(64 << 10)
		switch i % 5 {
		case 0:
			n = 1 + r.Uint64N(64<<10)
		case 1:
			n = 16 + r.Uint64N(4096) // short last leaves, often dense
		}
		sl := &slot{n: n}
		writes := 1 + r.IntN(16)
		for range writes {
			size := 1 + r.IntN(5)
			if r.IntN(4) == 0 {
				size = 1 + r.IntN(16<<10/writes)
			}
			at := r.Uint64N(n + 128)
			b := make([]byte, size)
			for k := range b {
				if r.IntN(3) > 0 {
					b[k] = byte(r.Uint32())
				}
			}
			sl.ext = append(sl.ext, memExtent{at: at, b: b})
		}
		data := make([]byte, n)
		if _, err := (&scratch{}).sparseInto(sl, data); err != nil {
			t.Fatal(err)
		}
		want, got := encodeSparse(data), encodeSparseSlot(data, sl)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (n %d, %d writes): slot encoder %d bytes, full scan %d bytes", i, n, writes, len(got), len(want))
		}
		if want == nil {
			raw++
		} else {
			sparse++
		}
	}
	if sparse < 100 || raw < 100 {
		t.Fatalf("cases stored sparse %d, raw %d: the generator misses one kind", sparse, raw)
	}
}
