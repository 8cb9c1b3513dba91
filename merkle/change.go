package merkle

import (
	"errors"
	"fmt"
)

// ChangeProof proves what the tree at root2 holds over [start, End] relative to root1: the
// range proof of root2 where every node and leaf that root1 holds at the same position with
// the same hash is replaced by an empty reuse marker. A verifier that holds root1's tree over
// the range checks each marker against its own copy. When the prover no longer has root1, the
// proof is a plain range proof at root2 and says so with Fallback.
type ChangeProof struct {
	Fallback bool
	End      Key // nil: the end of the key space
	Nodes    [][]byte
	Leaves   [][]byte
}

// NewChangeProof proves the entries of root2 in [start, end] that differ from root1, with the
// same limits as NewRangeProof. If root1's nodes are gone from store it returns a fallback
// range proof at root2.
func NewChangeProof(store NodeStore, root1, root2 Hash, start, end Key, maxEntries, maxBytes int) (*ChangeProof, error) {
	if err := checkRange(start, end); err != nil {
		return nil, err
	}
	l := &loader{store: store, cache: make(map[Hash]*node)}
	base := &baseTree{l: l, root: root1}
	p, err := changeProof(l, base, root2, start, end, maxEntries, maxBytes)
	if errors.Is(err, ErrNotFound) {
		// History is gone (root1, or part of it, was collected): prove root2 outright.
		rp, err := NewRangeProof(store, root2, start, end, maxEntries, maxBytes)
		if err != nil {
			return nil, err
		}
		return &ChangeProof{Fallback: true, End: rp.End, Nodes: rp.Nodes, Leaves: rp.Leaves}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("change proof %s..%s: %w", root1, root2, err)
	}
	return p, nil
}

func changeProof(l *loader, base *baseTree, root2 Hash, start, end Key, maxEntries, maxBytes int) (*ChangeProof, error) {
	if _, err := l.loadDir(base.root); err != nil {
		return nil, err
	}
	pend, err := proofEnd(l, base, root2, start, end, maxEntries, maxBytes)
	if err != nil {
		return nil, err
	}
	src, err := collect(l, base, root2, start, pend)
	if err != nil {
		return nil, err
	}
	return &ChangeProof{End: pend, Nodes: src.nodes, Leaves: src.leaves}, nil
}

// VerifyChangeProof checks p against root2 over [start, p.End], reading root1's tree from
// local wherever p reuses it. A fallback proof is verified as a range proof at root2.
func VerifyChangeProof(p *ChangeProof, local NodeStore, root1, root2 Hash, start, end Key) (*Verified, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil proof", ErrMalformedProof)
	}
	if p.Fallback {
		v, err := verify(p.End, p.Nodes, p.Leaves, nil, root2, start, end)
		if err != nil {
			return nil, err
		}
		v.Fallback = true
		return v, nil
	}
	base := &baseTree{l: &loader{store: local, cache: make(map[Hash]*node)}, root: root1}
	v, err := verify(p.End, p.Nodes, p.Leaves, base, root2, start, end)
	if err != nil {
		return nil, err
	}
	v.Base = root1
	ov := &overlayStore{nodes: make(map[Hash][]byte, len(v.Nodes)), NodeStore: local}
	for _, n := range v.Nodes {
		ov.nodes[n.Hash] = n.Data
	}
	if v.Deleted, err = deletedKeys(&loader{store: ov, cache: make(map[Hash]*node)}, root1, root2, bounds{start, v.End}); err != nil {
		return nil, fmt.Errorf("verify change proof: deletions: %w", err)
	}
	return v, nil
}

// overlayStore reads verified proof nodes first, then the local store.
type overlayStore struct {
	NodeStore
	nodes map[Hash][]byte
}

func (o *overlayStore) GetNode(h Hash) ([]byte, error) {
	if d, ok := o.nodes[h]; ok {
		return d, nil
	}
	return o.NodeStore.GetNode(h)
}
