package node

import (
	"context"
	"time"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/statesync"
	"github.com/hpfs/hpnode/statesync/hpfsdsync"
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

// syncRetry is the pause before a failed sync is tried again.
const syncRetry = time.Second

// stateSyncClient makes the client that fetches state from peers into hpfsd.
func (n *Node) stateSyncClient() *statesync.Client {
	cfg := n.config()
	return statesync.NewClient(n.mesh, hpfsdsync.NewSink(n.layout.HPFSSocket()), statesync.Config{
		Scheduler: statesync.SchedulerConfig{
			MaxInFlight: int(cfg.Sync.Workers),
			MaxEntries:  uint32(cfg.Sync.MaxProofEntries),
			MaxBytes:    uint32(cfg.Sync.MaxProofBytes),
		},
		RequestTimeout: time.Duration(cfg.Sync.RequestTimeout) * time.Millisecond,
		Logger:         n.logger.With("part", "statesync"),
	})
}

// serveStateSync lets peers sync from this node's kept versions.
func (n *Node) serveStateSync() {
	statesync.NewServer(hpfsdsync.NewSource(n.layout.HPFSSocket()), statesync.ServerConfig{
		Logger: n.logger.With("part", "statesync"),
	}).Register(n.mesh)
}

// runSync brings the state to the sync targets consensus asks for. A newer target moves a running
// sync (change proofs from the old target); a sync that fails is retried until it succeeds or a
// newer target or shutdown arrives. When the state matches, consensus is told with MsgSyncDone.
func (n *Node) runSync(ctx context.Context, q <-chan consensus.SyncTarget) {
	var (
		client  *statesync.Client
		target  consensus.SyncTarget
		done    chan error
		cancel  context.CancelFunc
		retryAt <-chan time.Time
	)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	defer n.syncing.Store(false)
	start := func() {
		n.syncing.Store(true)
		var jctx context.Context
		jctx, cancel = context.WithCancel(ctx)
		client = n.stateSyncClient()
		done = make(chan error, 1)
		root := merkle.Hash(target.Result.StateHash)
		c := client
		go func() { done <- c.Run(jctx, root) }()
		n.logger.Info("state sync started", "target", hex8(root[:]), "ledger", target.Result.Seq)
	}
	for {
		select {
		case <-ctx.Done():
			if done != nil {
				cancel()
				<-done
			}
			return
		case t := <-q:
			target = t
			if done != nil {
				client.SetTarget(merkle.Hash(t.Result.StateHash))
				continue
			}
			retryAt = nil
			start()
		case err := <-done:
			cancel()
			done = nil
			n.syncing.Store(false)
			if err != nil {
				n.logger.Warn("state sync failed; retrying", "err", err)
				retryAt = time.After(syncRetry)
				continue
			}
			n.publishProgress(nil)
			res := target.Result
			res.Config = unlConfig(n.syncedPatch())
			n.logger.Info("state sync done", "state", hex8(res.StateHash[:]), "ledger", res.Seq)
			// The synced state is now this node's result: a restart must resume from it, not
			// from the result it had before the sync.
			if err := n.db.saveResult(res); err != nil {
				n.logger.Error("save synced result", "ledger", res.Seq, "err", err)
			}
			n.view.setResult(res)
			n.kickStatus()
			select {
			case n.local <- consensus.Message{Type: consensus.MsgSyncDone, Result: &res}:
			case <-ctx.Done():
				return
			}
		case <-retryAt:
			retryAt = nil
			start()
		case <-tick.C:
			if done == nil {
				continue
			}
			n.publishProgress(progressOf(client))
		}
	}
}

func (n *Node) publishProgress(p *syncProgress) {
	n.view.setProgress(p)
	n.metrics.setProgress(p)
}

func progressOf(c *statesync.Client) *syncProgress {
	p := c.Progress()
	return &syncProgress{target: consensus.Hash(p.Target), entries: p.Entries, bytes: p.Bytes,
		percent: p.Percent, bytesPerSec: p.Rate, etaSeconds: p.ETA.Seconds()}
}

// syncTo runs one sync to root, publishing its progress every second, until it is done or ctx ends.
func (n *Node) syncTo(ctx context.Context, root merkle.Hash) error {
	client := n.stateSyncClient()
	done := make(chan error, 1)
	go func() { done <- client.Run(ctx, root) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			n.publishProgress(nil)
			return err
		case <-tick.C:
			n.publishProgress(progressOf(client))
		}
	}
}

// syncedPatch reads patch.cfg as the sync left it, keeping the last good one if it is unusable.
func (n *Node) syncedPatch() config.PatchConfig {
	p := n.exec.readPatchCommitted(n.exec.lastGood())
	n.setLatestPatch(p)
	return p
}
