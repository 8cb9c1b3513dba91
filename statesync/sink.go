package statesync

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hpfs/hpnode/merkle"
)

// ErrBadProof reports a proof that failed verification. A sink returns it (wrapped) for a change
// proof it verified and rejected; the client then penalises the peer that sent it.
var ErrBadProof = errors.New("statesync: proof failed verification")

// ApplyRequest is one proof for the sink to apply to the sync of Target.
type ApplyRequest struct {
	Target merkle.Hash
	// Kind is ProofRange or ProofChange. Fallback change proofs reach the sink as range proofs.
	Kind ProofKind
	// Base is the change proof's old root (zero for a range proof).
	Base merkle.Hash
	// Start and End are the requested range the proof answers.
	Start, End merkle.Key
	// Proof is the marshalled merkle.RangeProof or merkle.ChangeProof.
	Proof []byte
	// Verified is the client's own verification of a range proof against Target, so an
	// in-process sink need not verify twice; nil for change proofs, which only the sink can
	// verify (they reuse subtrees of its local tree).
	Verified *merkle.Verified
}

// ApplyResult is the sink's state after an apply.
type ApplyResult struct {
	// Done: the store holds the whole Target tree (for hpfsd: it is now a committed version).
	Done bool
	// Remaining are the ranges the sink still misses for Target.
	Remaining []merkle.KeyRange
	// Proved is what the proof proved, reported by a sink that verifies every proof itself
	// (a ProofVerifier); nil otherwise.
	Proved *Proved
}

// Proved summarises a proof a sink verified.
type Proved struct {
	// End is where the proof stopped (nil: the end of the key space); Complete says it
	// covered the whole requested range.
	End      merkle.Key
	Complete bool
	// Entries counts directories, files and symlinks (not leaves); Bytes the leaf data.
	Entries, Bytes uint64
}

// ProofVerifier is implemented by sinks that verify every proof they are given, range proofs
// included, before applying it, and report what it proved in ApplyResult.Proved. The client then
// hands them proofs as received instead of verifying range proofs a second time itself; a proof
// the sink rejects (ErrBadProof) penalises its sender exactly as a client-side rejection would.
type ProofVerifier interface {
	ProofSink
	// VerifiesProofs reports whether the sink verifies (and reports) every proof.
	VerifiesProofs() bool
}

// ProofSink applies verified proofs to the local store. The client calls Apply concurrently
// (several proofs in flight to the sink) but only ever for one target at a time: calls for a
// new target start after every call for the old one has returned, and it never moves a sink
// back to an older target. Once a call reported Done for a target, later calls for it may
// report Done or not; the client stops at the first Done.
type ProofSink interface {
	// Apply verifies (change proofs) and applies one proof. A proof that fails verification
	// returns an error wrapping ErrBadProof; any other error is the sink's own failure.
	// req.Proof is only valid during the call (the client reuses its buffer).
	Apply(ctx context.Context, req ApplyRequest) (ApplyResult, error)
}

// BufferLender is implemented by sinks that can lend the client the buffer to read a response
// into, and then apply a proof lying in it without copying it again (hpfsd: memory shared with
// the daemon, so the proof never crosses its socket).
type BufferLender interface {
	ProofSink
	// LendBuffer returns a buffer for one fetch, or nil when none can be lent now (the client
	// then reads into its own buffer and calls Apply).
	LendBuffer(ctx context.Context) (LentBuffer, error)
}

// LentBuffer is one buffer lent by a BufferLender, used by one fetch at a time.
type LentBuffer interface {
	// Bytes is the buffer; a response is read into Bytes()[:0] (a response that does not fit
	// is read elsewhere).
	Bytes() []byte
	// Apply is ProofSink.Apply for a proof that may lie in Bytes.
	Apply(ctx context.Context, req ApplyRequest) (ApplyResult, error)
	// Release gives the buffer back; nothing read into it may be used afterwards.
	Release()
}

// IdleCloser is implemented by sinks that keep resources between applies (hpfsd connections
// and the memory they share): the client calls CloseIdle when Run returns, so a finished sync
// pins nothing; the sink stays usable.
type IdleCloser interface {
	CloseIdle()
}

// Beginner is implemented by sinks that know, before any proof, what they miss for a target:
// typically a store that holds an older version, whose ranges can then all be fetched as change
// proofs from it (ranges with a Base) instead of refetched in full. The client calls Begin once
// at the start of Run, before any Apply; a Done result ends the sync at once.
type Beginner interface {
	Begin(ctx context.Context, target merkle.Hash) (ApplyResult, error)
}

// StoreSink is a ProofSink that rebuilds the target tree in a merkle.NodeStore with a
// merkle.Syncer.
type StoreSink struct {
	store  merkle.NodeStore
	params merkle.Params

	mu     sync.Mutex
	syncer *merkle.Syncer
}

// NewStoreSink returns a sink writing into store.
func NewStoreSink(store merkle.NodeStore, p merkle.Params) *StoreSink {
	return &StoreSink{store: store, params: p}
}

// Apply implements ProofSink.
func (s *StoreSink) Apply(_ context.Context, req ApplyRequest) (ApplyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.syncer == nil:
		s.syncer = merkle.NewSyncer(s.store, req.Target, s.params)
	case s.syncer.Target() != req.Target:
		s.syncer.SetTarget(req.Target)
	}
	v := req.Verified
	switch req.Kind {
	case ProofRange:
		if v == nil {
			var p merkle.RangeProof
			if err := p.UnmarshalBinary(req.Proof); err != nil {
				return ApplyResult{}, fmt.Errorf("%w: %w", ErrBadProof, err)
			}
			var err error
			if v, err = merkle.VerifyRangeProof(&p, req.Target, req.Start, req.End); err != nil {
				return ApplyResult{}, fmt.Errorf("%w: %w", ErrBadProof, err)
			}
		}
	case ProofChange:
		var p merkle.ChangeProof
		if err := p.UnmarshalBinary(req.Proof); err != nil {
			return ApplyResult{}, fmt.Errorf("%w: %w", ErrBadProof, err)
		}
		var err error
		if v, err = merkle.VerifyChangeProof(&p, s.store, req.Base, req.Target, req.Start, req.End); err != nil {
			return ApplyResult{}, fmt.Errorf("%w: %w", ErrBadProof, err)
		}
	default:
		return ApplyResult{}, fmt.Errorf("apply proof: kind %d", req.Kind)
	}
	if err := s.syncer.Apply(v); err != nil {
		return ApplyResult{}, fmt.Errorf("apply proof: %w", err)
	}
	return ApplyResult{Done: s.syncer.Done(), Remaining: s.syncer.Remaining()}, nil
}
