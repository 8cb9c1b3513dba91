package merkle

import (
	"errors"
	"fmt"
	"testing"
)

// countStore counts node writes.
type countStore struct {
	*MemStore
	puts, maxNode int
}

func (c *countStore) PutNode(h Hash, d []byte) error {
	c.puts++
	c.maxNode = max(c.maxNode, len(d))
	return c.MemStore.PutNode(h, d)
}

// TestBigDirectoryEditsTouchFewNodes: a 20k-entry directory is many small nodes, and one
// insert, delete or update rewrites only O(log n) of them.
func TestBigDirectoryEditsTouchFewNodes(t *testing.T) {
	cs := &countStore{MemStore: NewMemStore()}
	e, _ := NewEditor(cs, EmptyRoot(), Params{LeafSize: 4})
	for i := range 20000 {
		if err := e.Symlink(fmt.Sprintf("entry-%06d", i), "target"); err != nil {
			t.Fatal(err)
		}
	}
	mustCommit(t, e)
	if cs.maxNode > 32<<10 {
		t.Fatalf("largest directory node is %d bytes", cs.maxNode)
	}
	for _, op := range []func() error{
		func() error { return e.Symlink("entry-010000x", "t") },
		func() error { return e.Remove("entry-005000") },
		func() error { return e.Remove("entry-019999") },
		func() error { return e.Symlink("a-first", "t") },
		func() error { return e.Remove("entry-000000") },
	} {
		if err := op(); err != nil {
			t.Fatal(err)
		}
		cs.puts = 0
		mustCommit(t, e)
		// Symlink node + one node per level (4 levels), plus a neighbour or two where
		// a boundary entry moved.
		if cs.puts > 10 {
			t.Fatalf("one edit wrote %d nodes", cs.puts)
		}
	}
}

// TestOneLeafUpdateTouchesLogNodes: changing one leaf of a 4096-leaf file writes the file node
// and the log2(4096) = 12 leaf-tree nodes above it, plus the directory path.
func TestOneLeafUpdateTouchesLogNodes(t *testing.T) {
	cs := &countStore{MemStore: NewMemStore()}
	e, _ := NewEditor(cs, EmptyRoot(), Params{LeafSize: 1})
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i)
	}
	if err := e.WriteFile("f", 0o644, 4096, leafHashes(t, cs, data, 1)); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, e)
	cs.puts = 0
	if err := e.WriteFile("f", 0o644, 4096, map[uint64]Hash{1234: LeafHash([]byte{0xff})}); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, e)
	if want := 12 + 1 + 1; cs.puts != want {
		t.Fatalf("one leaf update wrote %d nodes, want %d", cs.puts, want)
	}
}

func TestNilInputsAreErrors(t *testing.T) {
	if _, err := VerifyRangeProof(nil, Hash{}, nil, nil); !errors.Is(err, ErrMalformedProof) {
		t.Fatalf("nil range proof: %v", err)
	}
	if _, err := VerifyChangeProof(nil, NewMemStore(), Hash{}, Hash{}, nil, nil); !errors.Is(err, ErrMalformedProof) {
		t.Fatalf("nil change proof: %v", err)
	}
	if err := NewSyncer(NewMemStore(), Hash{}, DefaultParams()).Apply(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil verified: %v", err)
	}
	if _, err := decodeNode(encodeSymlink("a\x00b")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("symlink with NUL: %v", err)
	}
}
