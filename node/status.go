package node

import (
	"context"
	"encoding/hex"
	"os"
	"time"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/nodedir"
)

// publishStatusEvery rewrites the status file every period, and soon after kickStatus, until ctx
// ends. Kicks coalesce: a burst of ledgers costs one write per write's duration, and the writes
// (an fsync each) stay off the consensus loop.
func (n *Node) publishStatusEvery(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.statusKick:
		}
		n.publishStatus()
	}
}

// kickStatus asks for the status file to be rewritten soon (a ledger closed, the state or the
// vote status changed), so `hpnode status` and tests see it without waiting for the next period.
func (n *Node) kickStatus() {
	select {
	case n.statusKick <- struct{}{}:
	default:
	}
}

// publishStatus writes what `hpnode status` and `hpnode cluster status` show.
func (n *Node) publishStatus() {
	v := n.view.snapshot()
	cfg := n.config()
	s := nodedir.Status{
		PID:        os.Getpid(),
		Up:         v.up,
		UpdatedAt:  time.Now().UTC(),
		PublicKey:  cfg.Node.PublicKey,
		VoteStatus: v.status.String(),
		LCLSeq:     v.tip.Seq,
		LCLHash:    hex.EncodeToString(v.tipHash[:]),
		StateHash:  hex.EncodeToString(v.result.StateHash[:]),
		PatchHash:  hex.EncodeToString(v.result.PatchHash[:]),
		UserPort:   cfg.User.Port,
		PeerPort:   cfg.Mesh.Port,
	}
	for _, k := range v.unl {
		key := config.EncodeKey(k[:])
		s.UNL = append(s.UNL, key)
		if key == cfg.Node.PublicKey {
			s.InUNL = true
		}
	}
	if n.mesh != nil {
		for _, p := range n.mesh.Peers() {
			s.Peers = append(s.Peers, config.EncodeKey(p.ID[:]))
		}
	}
	if p := v.progress; p != nil {
		s.Sync = &nodedir.Progress{Target: hex.EncodeToString(p.target[:]), Entries: p.entries, Bytes: p.bytes,
			Percent: p.percent, BytesPerSec: p.bytesPerSec, ETASeconds: p.etaSeconds}
	}
	if err := nodedir.WriteStatus(n.layout, s); err != nil {
		n.logger.Debug("status file", "err", err)
	}
}
