package statesync

import (
	"context"
	"sync/atomic"

	"github.com/hpfs/hpnode/merkle"
)

// countingSource counts the proofs a source served, by kind.
type countingSource struct {
	ProofSource
	ranges, changes, fallbacks atomic.Int64
}

func (s *countingSource) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error) {
	p, err := s.ProofSource.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
	if err == nil {
		s.ranges.Add(1)
	}
	return p, err
}

func (s *countingSource) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error) {
	p, err := s.ProofSource.ChangeProof(ctx, base, root, start, end, maxEntries, maxBytes)
	if err == nil {
		var cp merkle.ChangeProof
		if cp.UnmarshalBinary(p.Bytes) == nil && cp.Fallback {
			s.fallbacks.Add(1)
		} else {
			s.changes.Add(1)
		}
	}
	return p, err
}

func (s *countingSource) served() int64 {
	return s.ranges.Load() + s.changes.Load() + s.fallbacks.Load()
}

// lyingSource is a byzantine server: it answers every range request with a proof that
// tamper corrupts.
type lyingSource struct {
	ProofSource
	tamper func(root merkle.Hash, start, end merkle.Key, p Proof) (Proof, error)
	asked  atomic.Int64
}

func (s *lyingSource) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error) {
	s.asked.Add(1)
	p, err := s.ProofSource.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return p, err
	}
	return s.tamper(root, start, end, p)
}

// rewriteRange decodes a range proof, lets f change it, and re-encodes it.
func rewriteRange(p Proof, f func(rp *merkle.RangeProof)) (Proof, error) {
	var rp merkle.RangeProof
	if err := rp.UnmarshalBinary(p.Bytes); err != nil {
		return Proof{}, err
	}
	f(&rp)
	b, err := rp.MarshalBinary()
	if err != nil {
		return Proof{}, err
	}
	return Proof{Kind: ProofRange, Bytes: b, End: rp.End}, nil
}
