package merkle

import (
	"bytes"
	"errors"
	"fmt"
)

// RangeProof proves the entries with keys in [start, End] of the tree at a root. It is the
// tree at root pruned to the nodes whose key spans meet [start, End], listed in walk order,
// plus the data of every leaf in that range. End is where the proof stops (proof_end): the
// requested end when complete, else the last key included.
type RangeProof struct {
	End    Key // nil: the end of the key space
	Nodes  [][]byte
	Leaves [][]byte
}

// Verified is the result of a successful verification: exactly the truth at Root over
// [Start, End]. Its Nodes and Leaves are the authenticated objects revealed, for a Syncer.
type Verified struct {
	Root  Hash
	Start Key
	// End is the proof's end (proof_end); nil is the end of the key space.
	End Key
	// Complete reports that End is the requested end: nothing of the range is left.
	Complete bool
	// Base is root1 of a verified change proof (zero for a range proof or a fallback).
	Base Hash
	// Fallback reports a change proof that was a range proof at root2 because root1 was gone.
	Fallback bool
	// Entries are the entries in [Start, End], in key order. For a change proof, only the
	// entries of the subtrees that differ from Base.
	Entries []ProvenEntry
	// Deleted lists, for a change proof, every key in [Start, End] that Base has and Root
	// lacks, in key order (nil for range proofs and fallbacks).
	Deleted []Key
	Nodes   []Blob
	Leaves  []Blob
}

// limits stops a counting walk once maxEntries entries or about maxBytes bytes are reached,
// always letting the first entry through so every proof makes progress.
type limits struct {
	maxEntries, maxBytes int
	src                  *storeSource
	count                int
	leafBytes            uint64
	last                 Key
	truncated            bool
}

func (c *limits) emit(pe ProvenEntry, size uint64) error {
	used := c.src.nodeBytes + c.leafBytes + size
	if c.count > 0 && ((c.maxEntries > 0 && c.count >= c.maxEntries) || (c.maxBytes > 0 && used > uint64(c.maxBytes))) {
		c.truncated = true
		return errStop
	}
	c.count++
	c.leafBytes += size
	c.last = pe.Key
	return nil
}

// proofEnd runs the counting pass: where a proof of [start, end] with these limits stops.
func proofEnd(l *loader, base *baseTree, root Hash, start, end Key, maxEntries, maxBytes int) (Key, error) {
	src := &storeSource{l: l, base: base}
	c := &limits{maxEntries: maxEntries, maxBytes: maxBytes, src: src}
	w := &walker{src: src, rng: bounds{start, end}, emit: c.emit}
	if err := w.walk(root); err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	if c.truncated {
		return c.last, nil
	}
	return end, nil
}

// collect runs the recording pass over [start, pend].
func collect(l *loader, base *baseTree, root Hash, start, pend Key) (*storeSource, error) {
	src := &storeSource{l: l, base: base, record: true}
	w := &walker{src: src, rng: bounds{start, pend}, emit: func(ProvenEntry, uint64) error { return nil }}
	if err := w.walk(root); err != nil {
		return nil, err
	}
	return src, nil
}

// NewRangeProof proves the entries of the tree at root with keys in [start, end] (end nil: to
// the end of the key space), stopping after maxEntries entries or about maxBytes bytes of
// nodes and leaf data (<= 0: no limit). At least one entry is always included, and the proof
// also carries the O(log n) nodes on the paths to its two boundaries.
func NewRangeProof(store NodeStore, root Hash, start, end Key, maxEntries, maxBytes int) (*RangeProof, error) {
	if err := checkRange(start, end); err != nil {
		return nil, err
	}
	l := &loader{store: store, cache: make(map[Hash]*node)}
	pend, err := proofEnd(l, nil, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("range proof at %s: %w", root, err)
	}
	src, err := collect(l, nil, root, start, pend)
	if err != nil {
		return nil, fmt.Errorf("range proof at %s: %w", root, err)
	}
	return &RangeProof{End: pend, Nodes: src.nodes, Leaves: src.leaves}, nil
}

// checkEnd validates a proof's end against the requested range and reports completeness.
func checkEnd(pend, start, end Key) (complete bool, err error) {
	if err := checkRange(start, end); err != nil {
		return false, err
	}
	if pend == nil {
		if end != nil {
			return false, fmt.Errorf("%w: proof runs to the end of the key space, range ends at %s", ErrBadRange, end)
		}
		return true, nil
	}
	if bytes.Compare(pend, start) < 0 || (end != nil && bytes.Compare(pend, end) > 0) {
		return false, fmt.Errorf("%w: proof end %s outside [%s, %s]", ErrBadRange, pend, start, end)
	}
	return keyEqual(pend, end), nil
}

// VerifyRangeProof checks that p is exactly the truth at root over [start, p.End] and that
// p.End lies in [start, end]. It needs nothing but root.
func VerifyRangeProof(p *RangeProof, root Hash, start, end Key) (*Verified, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil proof", ErrMalformedProof)
	}
	return verify(p.End, p.Nodes, p.Leaves, nil, root, start, end)
}

func verify(pend Key, nodes, leaves [][]byte, base *baseTree, root Hash, start, end Key) (*Verified, error) {
	complete, err := checkEnd(pend, start, end)
	if err != nil {
		return nil, err
	}
	v := &Verified{Root: root, Start: append(Key{}, start...), End: pend, Complete: complete}
	src := &proofSource{root: root, nodes: nodes, leaves: leaves, base: base, out: v}
	w := &walker{src: src, rng: bounds{start, pend}, emit: func(pe ProvenEntry, _ uint64) error {
		v.Entries = append(v.Entries, pe)
		return nil
	}}
	if err := w.walk(root); err != nil {
		return nil, fmt.Errorf("verify proof at %s: %w", root, err)
	}
	if err := src.finish(); err != nil {
		return nil, fmt.Errorf("verify proof at %s: %w", root, err)
	}
	return v, nil
}
