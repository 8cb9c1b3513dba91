package statesync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hpfs/hpnode/merkle"
)

// ErrUnknownRoot reports a root the proof source does not hold; the server answers it with a
// NACK, never with silence.
var ErrUnknownRoot = errors.New("statesync: unknown root")

// Proof is one marshalled proof a ProofSource built, with where it ends.
type Proof struct {
	// Kind is ProofRange or ProofChange (a change proof may be a fallback range proof).
	Kind ProofKind
	// Bytes is the merkle.RangeProof or merkle.ChangeProof in its binary encoding.
	Bytes []byte
	// End is the proof's end key (proof_end); nil is the end of the key space.
	End merkle.Key
	// Buf, when not nil, is a buffer Bytes lies in with at least ResponseHeadroom free bytes
	// before it (cap(Buf)-cap(Bytes) is its offset) and, ideally, ResponseTailroom bytes of
	// spare capacity after it: the Server then encodes its response around the proof in
	// place instead of copying megabytes (a twentieth of a 1 GiB sync's CPU). The Server owns
	// Buf once it is returned. A Buf that does not hold Bytes so is ignored.
	Buf []byte
	// Release, when not nil, gives back the memory Bytes and Buf lie in (a region shared with
	// hpfsd): the Server calls it once the response has been sent, or will never be, and
	// touches neither afterwards.
	Release func()
}

// Totals estimates the size of a tree, for progress reporting only.
type Totals struct {
	Entries uint64
	Bytes   uint64
}

// ProofSource builds proofs from a local store. Implementations must be safe for concurrent
// use; the Server bounds how many calls run at once.
type ProofSource interface {
	// RangeProof proves the entries of root in [start, end] (end nil: to the end), within the
	// limits (0: none). It returns an error wrapping ErrUnknownRoot when root is not held.
	RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error)
	// ChangeProof proves what root holds in [start, end] relative to base; when base is not
	// held it returns a fallback change proof (a range proof at root). It returns an error
	// wrapping ErrUnknownRoot when root is not held.
	ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error)
	// Roots lists the roots the source can serve, newest first.
	Roots(ctx context.Context) ([]merkle.Hash, error)
	// SplitKeys returns up to n keys in (after, end] that cut the entries of root there into
	// parts of about equal size, in increasing order, and the estimated totals of the tree.
	SplitKeys(ctx context.Context, root merkle.Hash, after, end merkle.Key, n int) ([]merkle.Key, Totals, error)
}

// StoreSource is a ProofSource over a merkle.NodeStore holding complete trees. Only roots
// added with AddRoot are served.
type StoreSource struct {
	store merkle.NodeStore
	index *SplitIndex

	mu    sync.Mutex
	roots []merkle.Hash // newest first
}

// NewStoreSource returns a source over store serving no root yet.
func NewStoreSource(store merkle.NodeStore) *StoreSource {
	return &StoreSource{store: store, index: NewSplitIndex(storeLister(store))}
}

// AddRoot makes root servable; store must hold its whole tree.
func (s *StoreSource) AddRoot(root merkle.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.roots, root); i >= 0 {
		s.roots = slices.Delete(s.roots, i, i+1)
	}
	s.roots = slices.Insert(s.roots, 0, root)
}

// RemoveRoot stops serving root (as if its history had been dropped).
func (s *StoreSource) RemoveRoot(root merkle.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.roots, root); i >= 0 {
		s.roots = slices.Delete(s.roots, i, i+1)
	}
}

func (s *StoreSource) has(root merkle.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.roots, root)
}

// Roots implements ProofSource.
func (s *StoreSource) Roots(context.Context) ([]merkle.Hash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.roots), nil
}

// RangeProof implements ProofSource.
func (s *StoreSource) RangeProof(_ context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error) {
	if !s.has(root) {
		return Proof{}, fmt.Errorf("range proof at %s: %w", hex8(root), ErrUnknownRoot)
	}
	p, err := merkle.NewRangeProof(s.store, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return Proof{}, fmt.Errorf("range proof at %s: %w", hex8(root), err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return Proof{}, fmt.Errorf("marshal range proof: %w", err)
	}
	return Proof{Kind: ProofRange, Bytes: b, End: p.End}, nil
}

// ChangeProof implements ProofSource. A base that is not a served root gets a fallback proof
// even if its nodes linger in the store: a source serves only the history it advertises.
func (s *StoreSource) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error) {
	if !s.has(root) {
		return Proof{}, fmt.Errorf("change proof to %s: %w", hex8(root), ErrUnknownRoot)
	}
	if !s.has(base) {
		rp, err := s.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
		if err != nil {
			return Proof{}, err
		}
		return FallbackProof(rp)
	}
	p, err := merkle.NewChangeProof(s.store, base, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return Proof{}, fmt.Errorf("change proof %s..%s: %w", hex8(base), hex8(root), err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return Proof{}, fmt.Errorf("marshal change proof: %w", err)
	}
	return Proof{Kind: ProofChange, Bytes: b, End: p.End}, nil
}

// SplitKeys implements ProofSource.
func (s *StoreSource) SplitKeys(ctx context.Context, root merkle.Hash, after, end merkle.Key, n int) ([]merkle.Key, Totals, error) {
	if !s.has(root) {
		return nil, Totals{}, fmt.Errorf("split keys at %s: %w", hex8(root), ErrUnknownRoot)
	}
	return s.index.SplitKeys(ctx, root, after, end, n)
}

// fallbackProof wraps a marshalled range proof as a change proof that says it fell back.
func FallbackProof(rp Proof) (Proof, error) {
	var p merkle.RangeProof
	if err := p.UnmarshalBinary(rp.Bytes); err != nil {
		return Proof{}, fmt.Errorf("fallback proof: %w", err)
	}
	cp := merkle.ChangeProof{Fallback: true, End: p.End, Nodes: p.Nodes, Leaves: p.Leaves}
	b, err := cp.MarshalBinary()
	if err != nil {
		return Proof{}, fmt.Errorf("marshal fallback proof: %w", err)
	}
	return Proof{Kind: ProofChange, Bytes: b, End: p.End}, nil
}

func hex8(h merkle.Hash) string { return h.String()[:8] }
