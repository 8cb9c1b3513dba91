package node

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

// Catching up from far behind. Consensus alone catches up ledger by ledger: it asks for the next
// ledger, checks its certificate, and executes it, so a node that missed a thousand ledgers runs
// the contract a thousand times before it is back. Past Sync.CatchUpLedgers ledgers behind, the
// node instead fetches the missed ledgers in bulk (each checked against its predecessor's UNL
// certificate before it is stored, exactly as consensus checks one), and then syncs the state to
// the result the newest ledger records, with verified proofs (catchUpState): one state sync and
// one execution instead of a thousand executions.

// Timeouts of the catch-up's requests. A peer that does not answer in time is skipped, never
// waited for: catching up is an optimisation, and consensus catches up on its own without it.
const (
	// peerWait bounds how long a restarting node waits for its first peer before deciding whether
	// it is far behind; a node with no peer (a whole cluster restarting) starts as before.
	peerWait = 2 * time.Second
	// tipTimeout bounds asking a peer for its tip.
	tipTimeout = 2 * time.Second
	// fetchTimeout bounds one request for up to maxFetch ledgers.
	fetchTimeout = 10 * time.Second
	// fetchParallel is how many ledger fetches are in flight at once, spread over the peers.
	fetchParallel = 4
)

var errNoLedgers = errors.New("ledger catch-up: no peer served the missing ledgers")

// catchUpLedgers brings the ledger store to the peers' tip when it is at least
// Sync.CatchUpLedgers behind it, leaving the state to catchUpState. It reports whether it moved
// the tip. A failure is not fatal to the node (consensus catches up without it): the caller logs
// it and goes on.
func (n *Node) catchUpLedgers(ctx context.Context) (bool, error) {
	gap := n.config().Sync.CatchUpLedgers
	if gap == 0 {
		return false, nil
	}
	local := n.db.chain.Tip().Seq
	tip, claimed := n.highestPeerTip(ctx)
	if tip < local+gap {
		return false, nil
	}
	n.logger.Info("far behind the cluster: fetching the missed ledgers instead of executing each",
		"lcl", local, "peers_lcl", tip)
	start := time.Now()
	// The state sync to the state the peer's tip records starts at once, beside the ledger fetch:
	// proofs are verified against that root, so the sync cannot produce any other state, and the
	// root itself is trusted only if the verified chain ends on it. Otherwise the sync is
	// abandoned and catchUpState syncs to the verified root.
	sctx, cancelSync := context.WithCancel(ctx)
	defer cancelSync()
	synced := make(chan error, 1)
	go func() { synced <- n.syncTo(sctx, merkle.Hash(claimed)) }()
	err := n.fetchLedgers(ctx, local+1, tip)
	if err != nil || n.db.chain.Tip().Value.Result.StateHash != claimed {
		cancelSync()
	}
	if serr := <-synced; serr != nil && sctx.Err() == nil {
		n.logger.Warn("state sync beside the ledger fetch failed", "err", serr)
	}
	if err != nil && n.db.chain.Tip().Seq == local && n.prunedByPeers(ctx, local+1) {
		return n.reanchor(ctx)
	}
	if err != nil {
		return n.db.chain.Tip().Seq > local, err
	}
	n.logger.Info("missed ledgers fetched and verified", "from", local+1, "to", tip,
		"elapsed", time.Since(start).Round(time.Millisecond))
	return true, nil
}

// highestPeerTip asks every connected peer for its last closed ledger and returns the highest
// sequence number claimed (0 with no answer) with the state hash that ledger records. A claim is
// only a hint: the ledgers fetched after it are verified one by one, so a peer that lies about its
// tip only makes the fetch fail.
func (n *Node) highestPeerTip(ctx context.Context) (uint64, consensus.Hash) {
	deadline := time.Now().Add(peerWait)
	if len(n.config().Mesh.KnownPeers) == 0 {
		deadline = time.Now() // a node that knows no peer (a one-node cluster) waits for none
	}
	for len(n.mesh.Peers()) == 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, consensus.Hash{}
		case <-time.After(20 * time.Millisecond):
		}
	}
	peers := n.mesh.Peers()
	tips := make([]*consensus.Record, len(peers))
	var g errgroup.Group
	for i, p := range peers {
		g.Go(func() error {
			rctx, cancel := context.WithTimeout(ctx, tipTimeout)
			defer cancel()
			resp, err := n.mesh.Request(rctx, p.ID, kindLedgerFetch, encodeFetchRequest(fetchTip, 0), maxFetchResponse)
			if err != nil {
				return nil
			}
			if ds, err := decodeFetchResponse(resp); err == nil && len(ds) > 0 {
				tips[i] = &ds[len(ds)-1].Record
			}
			return nil
		})
	}
	_ = g.Wait()
	var best *consensus.Record
	for _, t := range tips {
		if t != nil && (best == nil || t.Seq > best.Seq) {
			best = t
		}
	}
	if best == nil {
		return 0, consensus.Hash{}
	}
	return best.Seq, best.Value.Result.StateHash
}

// prunedByPeers reports whether the connected peers answer a fetch of ledger seq, and every one
// that answers says it does not keep it (an empty response, not a timeout or an error): the
// ledger is gone from the cluster, and only re-anchoring can bring this node back.
func (n *Node) prunedByPeers(ctx context.Context, seq uint64) bool {
	answered, kept := 0, false
	for _, p := range n.mesh.Peers() {
		rctx, cancel := context.WithTimeout(ctx, tipTimeout)
		resp, err := n.mesh.Request(rctx, p.ID, kindLedgerFetch, encodeFetchRequest(seq, 1), maxFetchResponse)
		cancel()
		if err != nil {
			continue
		}
		ds, err := decodeFetchResponse(resp)
		if err != nil {
			continue
		}
		answered++
		kept = kept || len(ds) > 0
	}
	return answered > 0 && !kept
}

// fetchLedgers fetches ledgers from..to from the peers, fetchParallel chunks of maxFetch at a
// time, and appends each window to the ledger store in one batch (ledger.Store.AppendAll checks
// every record's link and certificate and every input against its record). A chunk that a peer
// did not serve, or that fails verification, is asked again of the next peer.
func (n *Node) fetchLedgers(ctx context.Context, from, to uint64) error {
	peers := n.mesh.Peers()
	if len(peers) == 0 {
		return errNoLedgers
	}
	attempt := 0
	for from <= to {
		var starts []uint64
		for s := from; s <= to && len(starts) < fetchParallel; s += maxFetch {
			starts = append(starts, s)
		}
		chunks := make([][]consensus.Decided, len(starts))
		var g errgroup.Group
		for i, s := range starts {
			count := uint32(min(maxFetch, to-s+1))
			peer := peers[(attempt+i)%len(peers)].ID
			g.Go(func() error {
				chunks[i] = n.fetchChunk(ctx, peer, s, count)
				return nil
			})
		}
		_ = g.Wait()
		var batch []consensus.Decided
		for i, c := range chunks {
			if uint64(len(c)) != min(maxFetch, to-starts[i]+1) || c[0].Record.Seq != starts[i] {
				break // only a complete, gap-free prefix can be appended
			}
			batch = append(batch, c...)
		}
		if len(batch) > 0 {
			err := checkInputs(batch)
			if err == nil {
				err = n.db.chain.AppendAll(batch)
			}
			if err != nil {
				n.logger.Warn("fetched ledgers failed verification; asking another peer", "from", from, "err", err)
				batch = nil
			}
		}
		if len(batch) == 0 {
			if attempt++; attempt >= 2*len(peers) {
				return fmt.Errorf("ledgers %d..%d: %w", from, to, errNoLedgers)
			}
			continue
		}
		from += uint64(len(batch))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// fetchChunk asks one peer for count ledgers from seq; nil when it does not serve them.
func (n *Node) fetchChunk(ctx context.Context, peer p2p.PeerID, seq uint64, count uint32) []consensus.Decided {
	rctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	resp, err := n.mesh.Request(rctx, peer, kindLedgerFetch, encodeFetchRequest(seq, count), maxFetchResponse)
	if err != nil {
		n.logger.Debug("ledger fetch", "peer", hex8(peer[:]), "from", seq, "err", err)
		return nil
	}
	ds, err := decodeFetchResponse(resp)
	if err != nil {
		n.logger.Debug("ledger fetch", "peer", hex8(peer[:]), "from", seq, "err", err)
		return nil
	}
	return ds
}

// checkInputs checks every input of fetched ledgers as consensus checks a relayed one, on every
// core. The certificates cover each input's ordered hash, which covers its signature but not its
// container: without this check a peer could serve a ledger whose inputs carry the right
// signatures over altered containers, and this node would store (and serve, and execute the tip's)
// inputs no user signed.
func checkInputs(ds []consensus.Decided) error {
	var ins []*consensus.Input
	for i := range ds {
		for j := range ds[i].Inputs {
			ins = append(ins, &ds[i].Inputs[j])
		}
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	const chunk = 256
	for lo := 0; lo < len(ins); lo += chunk {
		part := ins[lo:min(lo+chunk, len(ins))]
		g.Go(func() error {
			for _, in := range part {
				if err := checkInput(in); err != nil {
					return fmt.Errorf("fetched input of %x: %w", in.User[:4], err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}
