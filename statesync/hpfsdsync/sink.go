package hpfsdsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/statesync"
)

// Sink is a statesync.ProofSink over the hpfsd control socket (binary mode, apply-proof). hpfsd
// verifies every proof again through merkle before storing it and, when Done, commits the target
// as a version. Applies run concurrently, each on its own pooled connection.
type Sink struct {
	pc *hpfs.ProtoClient
}

var (
	_ statesync.ProofVerifier = (*Sink)(nil)
	_ statesync.Beginner      = (*Sink)(nil)
	_ statesync.BufferLender  = (*Sink)(nil)
	_ statesync.IdleCloser    = (*Sink)(nil)
)

// CloseIdle implements statesync.IdleCloser: the connections a sync leaves idle each hold a
// shared region with the pages its proofs touched (up to a response's size); a finished sync
// releases them.
func (s *Sink) CloseIdle() { s.pc.CloseIdle() }

// VerifiesProofs implements statesync.ProofVerifier: hpfsd verifies every proof (range proofs
// included) before it writes anything, and reports what it proved.
func (s *Sink) VerifiesProofs() bool { return true }

// NewSink returns a sink applying through the hpfsd listening on socket.
func NewSink(socket string) *Sink { return &Sink{pc: hpfs.NewProtoClient(socket)} }

// Close closes the sink's idle connections to hpfsd.
func (s *Sink) Close() error { return s.pc.Close() }

// Begin implements statesync.Beginner: hpfsd starts the sync from its head, so every range can
// be fetched as a change proof from what the store already holds.
func (s *Sink) Begin(ctx context.Context, target merkle.Hash) (statesync.ApplyResult, error) {
	st, err := s.pc.BeginSync(ctx, target)
	if err != nil {
		return statesync.ApplyResult{}, err
	}
	return statesync.ApplyResult{Done: st.Done, Remaining: st.Remaining}, nil
}

// Apply implements statesync.ProofSink. hpfsd reports a proof that fails to decode or verify
// with hpfs.ErrProofRejected; that (and only that) becomes statesync.ErrBadProof.
func (s *Sink) Apply(ctx context.Context, req statesync.ApplyRequest) (statesync.ApplyResult, error) {
	return apply(ctx, req, s.pc.ApplyProof)
}

// LendBuffer implements statesync.BufferLender: the buffer is the shared region of a leased
// connection to hpfsd, so a response read into it is applied without crossing the socket. It
// lends nothing when hpfsd offers no shared region.
func (s *Sink) LendBuffer(ctx context.Context) (statesync.LentBuffer, error) {
	l, err := s.pc.Lease(ctx)
	if err != nil {
		return nil, err
	}
	if l.Shared() == nil {
		l.Release()
		return nil, nil
	}
	return lentBuffer{s, l}, nil
}

// lentBuffer is a statesync.LentBuffer over a hpfs.Lease.
type lentBuffer struct {
	s *Sink
	l *hpfs.Lease
}

func (b lentBuffer) Bytes() []byte { return b.l.Shared() }
func (b lentBuffer) Release()      { b.l.Release() }

// Apply applies through the lease; if its connection turned out dead (hpfsd restarted since
// it was pooled), the proof, still readable until Release, is sent in a frame instead.
func (b lentBuffer) Apply(ctx context.Context, req statesync.ApplyRequest) (statesync.ApplyResult, error) {
	res, err := apply(ctx, req, b.l.ApplyProof)
	if err != nil && b.l.Broken() && ctx.Err() == nil {
		return b.s.Apply(ctx, req)
	}
	return res, err
}

// apply maps an ApplyRequest to hpfsd's apply-proof (through call) and its answer back.
func apply(ctx context.Context, req statesync.ApplyRequest,
	call func(context.Context, hpfs.ProofKind, merkle.Hash, merkle.Hash, merkle.Key, merkle.Key, []byte) (hpfs.SyncStatus, error),
) (statesync.ApplyResult, error) {
	kind := hpfs.KindRange
	var base merkle.Hash
	if req.Kind == statesync.ProofChange {
		kind, base = hpfs.KindChange, req.Base
	}
	st, err := call(ctx, kind, base, req.Target, req.Start, req.End, req.Proof)
	if err != nil {
		if errors.Is(err, hpfs.ErrProofRejected) {
			return statesync.ApplyResult{}, fmt.Errorf("%w: %w", statesync.ErrBadProof, err)
		}
		return statesync.ApplyResult{}, err
	}
	res := statesync.ApplyResult{Done: st.Done, Remaining: st.Remaining}
	if p := st.Proved; p != nil {
		res.Proved = &statesync.Proved{End: p.End, Complete: p.Complete, Entries: p.Entries, Bytes: p.Bytes}
	}
	return res, nil
}
