package merkle

import (
	"bytes"
	"fmt"
)

// Syncer rebuilds a target tree in a store from verified proofs. It stores the nodes and
// leaves each proof reveals and tracks the key ranges still missing; proofs may arrive for any
// ranges, in any order, and overlap. Because a proof of [start, end] reveals every node whose
// key span meets that range, the store holds the whole target tree exactly when no range
// remains. The target can move forward (SetTarget); ranges already held at the old target can
// then be fetched as change proofs from it. A Syncer is not safe for concurrent use: its owner
// (the sync driver) serializes Apply calls.
type Syncer struct {
	store     NodeStore
	p         Params
	target    Hash
	remaining []KeyRange // sorted, disjoint
}

// NewSyncer returns a Syncer for target with the whole key space remaining.
func NewSyncer(store NodeStore, target Hash, p Params) *Syncer {
	return &Syncer{store: store, p: p, target: target, remaining: []KeyRange{{Start: Key{}}}}
}

// Target returns the root being synced.
func (s *Syncer) Target() Hash { return s.target }

// Remaining returns the key ranges not yet held for the target, in key order.
func (s *Syncer) Remaining() []KeyRange {
	out := make([]KeyRange, len(s.remaining))
	copy(out, s.remaining)
	return out
}

// Done reports whether the store holds the whole target tree.
func (s *Syncer) Done() bool { return len(s.remaining) == 0 }

// Apply stores a verified proof's nodes and leaves and marks [v.Start, v.End] as held. A
// change proof only covers the parts of its range whose remaining Base is v.Base: elsewhere
// the local store may not hold the subtrees it reuses.
func (s *Syncer) Apply(v *Verified) error {
	if v == nil {
		return fmt.Errorf("%w: nil proof", ErrInvalidArgument)
	}
	if v.Root != s.target {
		return fmt.Errorf("%w: proof at %s, syncing %s", ErrTargetMismatch, v.Root, s.target)
	}
	for _, n := range v.Nodes {
		if err := s.store.PutNode(n.Hash, n.Data); err != nil {
			return fmt.Errorf("apply proof: %w", err)
		}
	}
	for _, l := range v.Leaves {
		if err := s.store.PutLeaf(l.Hash, l.Data); err != nil {
			return fmt.Errorf("apply proof: %w", err)
		}
	}
	var out []KeyRange
	for _, r := range s.remaining {
		if !v.Base.IsZero() && r.Base != v.Base {
			out = append(out, r)
			continue
		}
		out = append(out, subtract(r, v.Start, v.End)...)
	}
	s.remaining = out
	return nil
}

// SetTarget moves the sync to a newer root. Every range already held becomes remaining again
// with Base = the old target, so it can be fetched as a change proof; ranges never held keep
// their Base.
func (s *Syncer) SetTarget(target Hash) {
	if target == s.target {
		return
	}
	old := s.target
	var out []KeyRange
	cur := Key{}
	for _, r := range s.remaining {
		if bytes.Compare(cur, r.Start) < 0 {
			out = append(out, KeyRange{Start: cur, End: prev(r.Start), Base: old})
		}
		out = append(out, r)
		cur = nil
		if r.End != nil {
			cur = next(r.End)
		}
	}
	if cur != nil {
		out = append(out, KeyRange{Start: cur, Base: old})
	}
	s.target, s.remaining = target, out
}

// subtract removes the inclusive range [start, end] (end nil: unbounded) from r.
func subtract(r KeyRange, start, end Key) []KeyRange {
	if (end != nil && bytes.Compare(r.Start, end) > 0) || (r.End != nil && bytes.Compare(start, r.End) > 0) {
		return []KeyRange{r}
	}
	var out []KeyRange
	if bytes.Compare(r.Start, start) < 0 {
		out = append(out, KeyRange{Start: r.Start, End: prev(start), Base: r.Base})
	}
	if end != nil && (r.End == nil || bytes.Compare(end, r.End) < 0) {
		out = append(out, KeyRange{Start: next(end), End: r.End, Base: r.Base})
	}
	return out
}

// prev is the largest key below k when k ends in 0x00 (every key a proof or a split produces
// does); otherwise k itself, which keeps one already-held key in the remaining range rather
// than losing any.
func prev(k Key) Key {
	if len(k) > 0 && k[len(k)-1] == 0 {
		return append(Key{}, k[:len(k)-1]...)
	}
	return append(Key{}, k...)
}
