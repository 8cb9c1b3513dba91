package statesync

import (
	"context"
	"errors"
	"fmt"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
	"github.com/hpfs/hpnode/statesync/internal/hugemem"
)

// requestIntoer is the buffer-reusing request of *p2p.Node, used when the Network has it.
type requestIntoer interface {
	RequestInto(ctx context.Context, to p2p.PeerID, kind p2p.Kind, req, dst []byte, maxResp int) ([]byte, error)
}

// freeList holds response buffers for the fetches of one Run. A fresh multi-megabyte buffer per
// response costs a page fault per 4 KiB on this kind of VM (more than the copy into it); a
// bounded free list keeps them, unlike a sync.Pool that a busy GC empties.
type freeList struct {
	size int
	ch   chan []byte
}

func newFreeList(n, size int) *freeList { return &freeList{size: size, ch: make(chan []byte, n)} }

func (l *freeList) get() []byte {
	select {
	case b := <-l.ch:
		return b
	default:
		return hugemem.Alloc(0, l.size)
	}
}

func (l *freeList) put(b []byte) {
	select {
	case l.ch <- b[:0]:
	default:
	}
}

// maxResponse bounds the response to a request limited to maxBytes of proof: a proof may exceed
// its byte limit by one entry (at most one leaf) and its boundary paths.
func maxResponse(maxBytes uint32) int {
	return min(int(maxBytes)+int(maxBytes)/2+merkle.MaxLeafSize+1<<20, MaxProofBytes) + responseOverhead
}

// fetch performs one Fetch: request, decode, verify, apply. It runs on its own goroutine; the
// sink is entered under applyMu (read: fetches apply concurrently), and only for the current
// target.
func (c *Client) fetch(ctx context.Context, f Fetch, bufs *freeList) fetchResult {
	res := fetchResult{Result: Result{ID: f.ID}, target: f.Req.Root}
	fail := func(o Outcome, err error) fetchResult {
		if ctx.Err() != nil {
			o = OutcomeStale
		}
		res.Outcome, res.err = o, err
		return res
	}
	body, err := f.Req.MarshalBinary()
	if err != nil {
		// The range cannot be asked for on the wire (a key over MaxKeyLen): retrying would
		// loop, so the sync stops and says why.
		res.fatal = fmt.Errorf("encode request for %s: %w", merkle.KeyRange{Start: f.Req.Start, End: f.Req.End}, err)
		return res
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	var raw []byte
	// sink applies the proof: the sink itself, or the buffer it lent for the response.
	var sink interface {
		Apply(context.Context, ApplyRequest) (ApplyResult, error)
	} = c.sink
	ri, into := c.net.(requestIntoer)
	var lent LentBuffer
	if bl, ok := c.sink.(BufferLender); ok && into {
		// A lending failure is not this fetch's to report: Apply says what is wrong.
		if lent, _ = bl.LendBuffer(ctx); lent != nil {
			defer lent.Release()
			sink = lent
		}
	}
	switch {
	case lent != nil:
		// The response is read into the sink's buffer and applied from there: it is dead
		// once the sink returns, and the buffer goes back then.
		raw, err = ri.RequestInto(rctx, f.Peer, KindStateSync, body, lent.Bytes()[:0], maxResponse(f.Req.MaxBytes))
	case into && bufs != nil:
		// The response (and the proof aliasing it) is dead once the sink returns: the buffer
		// goes back to the run's free list then.
		buf := bufs.get()
		defer func() { bufs.put(buf) }()
		raw, err = ri.RequestInto(rctx, f.Peer, KindStateSync, body, buf, maxResponse(f.Req.MaxBytes))
		if cap(raw) > cap(buf) {
			buf = raw // it did not fit: keep the larger buffer instead
		}
	default:
		raw, err = c.net.Request(rctx, f.Peer, KindStateSync, body, maxResponse(f.Req.MaxBytes))
	}
	cancel()
	if err != nil {
		if errors.Is(err, p2p.ErrResponseTooLarge) {
			return fail(OutcomeBadProof, err)
		}
		return fail(OutcomeFailed, err)
	}
	var resp Response
	if err := resp.UnmarshalBinary(raw); err != nil {
		return fail(OutcomeBadProof, err)
	}
	switch resp.Status {
	case StatusNack:
		return fail(OutcomeNack, fmt.Errorf("peer lacks root %s", hex8(f.Req.Root)))
	case StatusError:
		if resp.Code == CodeBusy {
			return fail(OutcomeBusy, errors.New(resp.Message))
		}
		return fail(OutcomeFailed, fmt.Errorf("peer error %d: %s", resp.Code, resp.Message))
	}
	if resp.Kind != f.Req.Kind {
		return fail(OutcomeBadProof, fmt.Errorf("%s proof for a %s request", resp.Kind, f.Req.Kind))
	}
	sinkVerifies := false
	if pv, ok := c.sink.(ProofVerifier); ok {
		sinkVerifies = pv.VerifiesProofs()
	}
	var ar ApplyRequest
	if sinkVerifies {
		ar = ApplyRequest{Target: f.Req.Root, Kind: resp.Kind, Start: f.Req.Start, End: f.Req.End, Proof: resp.Proof}
		if resp.Kind == ProofChange {
			ar.Base = f.Req.Base
		}
	} else if ar, err = c.verify(f.Req, resp, &res); err != nil {
		return fail(OutcomeBadProof, err)
	}
	c.applyMu.RLock()
	defer c.applyMu.RUnlock()
	if c.applyTarget != f.Req.Root {
		return fail(OutcomeStale, errors.New("target moved"))
	}
	out, err := sink.Apply(ctx, ar)
	if err != nil {
		if errors.Is(err, ErrBadProof) {
			return fail(OutcomeBadProof, err)
		}
		if ctx.Err() != nil {
			return fail(OutcomeStale, err)
		}
		res.fatal = fmt.Errorf("apply proof: %w", err)
		return res
	}
	if sinkVerifies {
		if out.Proved == nil {
			res.fatal = errors.New("apply proof: the sink verifies proofs but did not say what one proved")
			return res
		}
		res.End, res.Complete = out.Proved.End, out.Proved.Complete
		res.entries, res.data = out.Proved.Entries, out.Proved.Bytes
	}
	res.Outcome, res.apply, res.Hints, res.totals = OutcomeProof, out, resp.Hints, resp.Totals
	res.proof = uint64(len(resp.Proof))
	return res
}

// verify checks a proof response against the request's root and range and prepares it for the
// sink. Range proofs, and change proofs that fell back to a range proof, are verified here;
// a real change proof reuses the local tree, so the sink verifies it against its store.
func (c *Client) verify(req Request, resp Response, res *fetchResult) (ApplyRequest, error) {
	ar := ApplyRequest{Target: req.Root, Kind: ProofRange, Start: req.Start, End: req.End, Proof: resp.Proof}
	var rp *merkle.RangeProof
	if resp.Kind == ProofRange {
		rp = &merkle.RangeProof{}
		if err := rp.UnmarshalBinary(resp.Proof); err != nil {
			return ApplyRequest{}, err
		}
	} else {
		var cp merkle.ChangeProof
		if err := cp.UnmarshalBinary(resp.Proof); err != nil {
			return ApplyRequest{}, err
		}
		if !cp.Fallback {
			ar.Kind, ar.Base = ProofChange, req.Base
			res.End, res.Complete = cp.End, sameEnd(cp.End, req.End)
			// Not verified here, so entries are unknown; the leaf bytes it carries are counted.
			for _, l := range cp.Leaves {
				res.data += uint64(len(l))
			}
			return ar, nil
		}
		rp = &merkle.RangeProof{End: cp.End, Nodes: cp.Nodes, Leaves: cp.Leaves}
		b, err := rp.MarshalBinary()
		if err != nil {
			return ApplyRequest{}, fmt.Errorf("re-encode fallback proof: %w", err)
		}
		ar.Proof = b
	}
	v, err := merkle.VerifyRangeProof(rp, req.Root, req.Start, req.End)
	if err != nil {
		return ApplyRequest{}, err
	}
	ar.Verified = v
	res.End, res.Complete = v.End, v.Complete
	for _, e := range v.Entries {
		// Entries count what Totals counts: directories, files and symlinks, not leaves.
		if !e.Leaf {
			res.entries++
		}
		res.data += uint64(len(e.Data))
	}
	return ar, nil
}
