package hpfs

import (
	"bytes"
	"testing"

	"github.com/hpfs/hpnode/merkle"
)

// TestProofPartsMatchMarshal: the pieces the daemon writes for a proof join to exactly the bytes
// of merkle's MarshalBinary, for range and change proofs, fallback or not, with and without an
// end key, nodes and leaves (empty ones included).
func TestProofPartsMatchMarshal(t *testing.T) {
	lists := [][][]byte{nil, {}, {{}}, {[]byte("a")}, {[]byte("node one"), {}, bytes.Repeat([]byte{7}, 70_000)}}
	ends := []merkle.Key{nil, {}, merkle.Key("state/d/f\x00"), merkle.Key(bytes.Repeat([]byte{'k'}, 300))}
	for _, end := range ends {
		for _, nodes := range lists {
			for _, leaves := range lists {
				rp := &merkle.RangeProof{End: end, Nodes: nodes, Leaves: leaves}
				want, err := rp.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if got := bytes.Join(rangeProofParts(rp), nil); !bytes.Equal(got, want) {
					t.Fatalf("range proof end %q, %d nodes, %d leaves: parts join to %x, want %x", end, len(nodes), len(leaves), got, want)
				}
				for _, fallback := range []bool{false, true} {
					cp := &merkle.ChangeProof{Fallback: fallback, End: end, Nodes: nodes, Leaves: leaves}
					want, err := cp.MarshalBinary()
					if err != nil {
						t.Fatal(err)
					}
					if got := bytes.Join(changeProofParts(cp), nil); !bytes.Equal(got, want) {
						t.Fatalf("change proof fallback %v end %q: parts join to %x, want %x", fallback, end, got, want)
					}
				}
			}
		}
	}
}

// TestProofPartsAliasLeaves: a leaf is written from where the proof holds it, not copied.
func TestProofPartsAliasLeaves(t *testing.T) {
	leaf := bytes.Repeat([]byte{1}, 4096)
	parts := rangeProofParts(&merkle.RangeProof{Leaves: [][]byte{leaf}})
	if len(parts) != 3 || &parts[2][0] != &leaf[0] {
		t.Fatalf("leaf piece does not alias the proof's leaf: %d parts", len(parts))
	}
}
