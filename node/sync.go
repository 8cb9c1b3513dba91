package node

import (
	"context"

	"github.com/hpfs/hpnode/consensus"
)

// syncProgress is a state sync in flight, as published in the status file.
type syncProgress struct {
	target      consensus.Hash
	entries     uint64
	bytes       uint64
	percent     float64
	bytesPerSec float64
	etaSeconds  float64
}

// runSync brings the state to each sync target consensus asks for.
func (n *Node) runSync(ctx context.Context, q <-chan consensus.SyncTarget) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-q:
			n.logger.Warn("state differs from the majority; state sync is not wired yet", "target", hex8(t.Result.StateHash[:]))
		}
	}
}
