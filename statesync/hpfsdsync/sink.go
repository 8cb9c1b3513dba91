package hpfsdsync

import (
	"context"
	"fmt"
	"strings"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/statesync"
)

// Sink is a statesync.ProofSink over the hpfsd control socket (op apply-proof). hpfsd verifies every
// proof again through merkle before storing it and, when Done, commits the target as a version.
type Sink struct {
	socket string
}

// NewSink returns a sink applying through the hpfsd listening on socket.
func NewSink(socket string) *Sink { return &Sink{socket: socket} }

// Apply implements statesync.ProofSink. hpfsd reports a failed verification as an error whose text
// carries merkle's "merkle: " sentinel text; that (and only that) becomes statesync.ErrBadProof.
func (s *Sink) Apply(_ context.Context, req statesync.ApplyRequest) (statesync.ApplyResult, error) {
	hr := hpfs.Request{Op: hpfs.OpApplyProof, Kind: req.Kind.String(), Target: req.Target.String(),
		Start: req.Start, End: req.End, Proof: req.Proof}
	if req.Kind == statesync.ProofChange {
		hr.Root1 = req.Base.String()
	}
	var out hpfs.ApplyInfo
	if err := hpfs.Call(s.socket, hr, &out); err != nil {
		if strings.Contains(err.Error(), "merkle: ") {
			return statesync.ApplyResult{}, fmt.Errorf("%w: %w", statesync.ErrBadProof, err)
		}
		return statesync.ApplyResult{}, err
	}
	res := statesync.ApplyResult{Done: out.Done}
	for _, r := range out.Remaining {
		start := merkle.Key(r.Start)
		if start == nil {
			start = merkle.Key{}
		}
		var end merkle.Key
		if r.End != nil {
			end = merkle.Key(r.End)
		}
		res.Remaining = append(res.Remaining, merkle.KeyRange{Start: start, End: end})
	}
	return res, nil
}
