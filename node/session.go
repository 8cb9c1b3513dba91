package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hpfs/hpnode/consensus"
)

// A consensus session is the consensus loop with the executor and the state syncer it drives.
// Sessions end only to catch up: when the loop finds the node far behind, the session's goroutines
// are stopped (a running contract is killed and its session rolled back, a running sync is
// abandoned), the node fetches the missed ledgers and syncs the state to the newest one (as at a
// restart), and a new session starts from the stores. The mesh, the user server and the status
// publisher keep running throughout: peers and users see a node that is briefly busy, not a
// restart.

// errFarBehind ends a session: the node must catch up before consensus can be useful again.
var errFarBehind = errors.New("far behind the cluster")

// catchUpBackoff is how long the loop waits before asking for another catch-up after one that
// moved nothing (a peer that claims ledgers nobody serves must not make the node catch up in a
// loop).
const catchUpBackoff = 30 * time.Second

// runConsensus runs sessions until ctx ends or a session fails for another reason than being far
// behind.
func (n *Node) runConsensus(ctx context.Context, cons *consensus.Node) error {
	for {
		err := n.runSession(ctx, cons)
		if !errors.Is(err, errFarBehind) || ctx.Err() != nil {
			return err
		}
		before := n.db.chain.Tip().Seq
		executed := n.view.snapshot().result.Seq
		start := time.Now()
		if _, err := n.catchUpLedgers(ctx); err != nil {
			n.logger.Warn("ledger catch-up", "err", err)
		}
		if err := n.catchUpState(ctx); err != nil {
			return fmt.Errorf("catch up: %w", err)
		}
		if cons, err = n.newConsensus(); err != nil {
			return fmt.Errorf("catch up: %w", err)
		}
		after := n.db.chain.Tip().Seq
		n.logger.Info("caught up", "lcl", after, "was", before, "executed_was", executed,
			"elapsed", time.Since(start).Round(time.Millisecond))
		if after == before && n.view.snapshot().result.Seq == executed {
			n.catchUpAfter = time.Now().Add(catchUpBackoff)
		}
		// Fetched ledgers may have changed the UNL.
		n.mesh.SetUNL(n.view.unlKeys())
		n.kickStatus()
	}
}

// runSession runs one session until it fails or finds the node far behind (errFarBehind).
func (n *Node) runSession(ctx context.Context, cons *consensus.Node) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A fresh channel per session: a result the last session's executor or syncer reported is
	// for a consensus state machine that no longer exists.
	n.local = make(chan consensus.Message, 16)
	execQ := make(chan consensus.Execution, 1)
	syncQ := make(chan consensus.SyncTarget, 1)
	g, gctx := errgroup.WithContext(sctx)
	g.Go(func() error { n.runExecutor(gctx, execQ); return nil })
	g.Go(func() error { n.runSync(gctx, syncQ); return nil })
	g.Go(func() error { return n.loop(gctx, cons, execQ, syncQ) })
	return g.Wait()
}

// farBehind reports whether the node should leave the session to catch up: UNL members propose
// for a ledger at least Sync.CatchUpLedgers beyond its tip, or it executes that far behind the
// ledgers it closed (an observer that closes ledgers from certificates faster than it runs the
// contract). Not while a state sync runs (it is already catching up, and restarting it would
// lose its progress) and not during the backoff after a catch-up that moved nothing.
func (n *Node) farBehind(cons *consensus.Node, now time.Time) bool {
	gap := n.config().Sync.CatchUpLedgers
	if gap == 0 || n.syncing.Load() || now.Before(n.catchUpAfter) {
		return false
	}
	tip := cons.Tip().Seq
	return n.peerSeq.Load() >= tip+gap || tip >= n.view.executedSeq()+gap
}
