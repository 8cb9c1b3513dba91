package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/merkle"
)

// A blank node (`hpnode new DIR --contract-id ID --peers HOST:PORT --unl KEY`) knows the contract
// id, one peer address and the UNL keys it trusts, nothing else: not the UNL's genesis, not the
// contract, not the state. joinCluster makes it a follower of the running cluster:
//
//  1. Ledger anchor: it asks connected peers for their last two ledgers (P, T) and accepts them
//     only if T links to P and T's certificate holds a quorum of valid signatures of the UNL that
//     P configures, including a valid signature of a key it trusts. A trusted key signed T, and T
//     commits to P's hash, so P's content (and the UNL and state hash it records) is authenticated
//     by the trusted key: a peer cannot feed a fabricated chain without that key's signature.
//  2. State: it syncs the state (contract code, files and patch.cfg) to T's recorded result, the
//     state after executing P, with verified proofs from several peers.
//  3. It then starts consensus at tip T with P's result, so its first act is executing T on the
//     synced state, after which it follows the cluster ledger by ledger (consensus fetches any
//     ledgers it missed and checks them by their certificates), as an observer until the UNL adds
//     it.
type joined struct {
	base consensus.Record  // P: the record the local chain starts from
	tip  consensus.Decided // T with its inputs
}

// joinRetry is the pause between rounds of asking peers for an anchor.
const joinRetry = 500 * time.Millisecond

// needsJoin reports whether this node must clone a cluster: its stores are new, its state is
// empty, it knows peers, and it is not itself in the UNL it trusts (a UNL member of a new
// cluster starts from its own seeded state instead).
func (n *Node) needsJoin(stateEmpty bool) bool {
	cfg := n.config()
	if !stateEmpty || len(cfg.Mesh.KnownPeers) == 0 {
		return false
	}
	for _, k := range cfg.Contract.UNL {
		if pub, err := config.ParsePublicKey(k); err == nil && pub.Equal(n.pub) {
			return false
		}
	}
	return true
}

// joinCluster runs steps 1 and 2 above.
func (n *Node) joinCluster(ctx context.Context) (joined, error) {
	trusted := map[consensus.PubKey]bool{}
	for _, k := range n.config().Contract.UNL {
		if pub, err := config.ParsePublicKey(k); err == nil {
			trusted[consensus.PubKey(pub)] = true
		}
	}
	n.logger.Info("joining cluster: fetching a ledger anchor", "peers", n.config().Mesh.KnownPeers)
	var j joined
	for {
		var err error
		if j, err = n.fetchAnchor(ctx, trusted); err == nil {
			break
		}
		n.logger.Debug("no ledger anchor yet", "err", err)
		select {
		case <-ctx.Done():
			return joined{}, ctx.Err()
		case <-time.After(joinRetry):
		}
	}
	res := j.tip.Record.Value.Result
	n.logger.Info("ledger anchor verified; syncing state", "ledger", j.tip.Record.Seq,
		"state", hex8(res.StateHash[:]), "unl", len(res.Config.UNL))
	for {
		err := n.syncTo(ctx, merkle.Hash(res.StateHash))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return joined{}, ctx.Err()
		}
		n.logger.Warn("join state sync failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return joined{}, ctx.Err()
		case <-time.After(syncRetry):
		}
	}
	n.logger.Info("state synced", "state", hex8(res.StateHash[:]))
	return j, nil
}

var errNoAnchor = errors.New("no peer offered a verifiable ledger anchor")

// fetchAnchor asks each connected peer for its last two ledgers and returns the first pair that
// verifies (step 1).
func (n *Node) fetchAnchor(ctx context.Context, trusted map[consensus.PubKey]bool) (joined, error) {
	contractID := n.config().Contract.ID
	for _, p := range n.mesh.Peers() {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := n.mesh.Request(rctx, p.ID, kindLedgerFetch, encodeFetchRequest(fetchTip, 0), maxFetchResponse)
		cancel()
		if err != nil {
			continue
		}
		ds, err := decodeFetchResponse(resp)
		if err != nil || len(ds) != 2 {
			n.logger.Debug("bad ledger anchor", "peer", hex8(p.ID[:]), "err", err, "ledgers", len(ds))
			continue
		}
		if err := verifyAnchor(contractID, trusted, &ds[0].Record, &ds[1]); err != nil {
			n.logger.Warn("peer offered an unverifiable ledger anchor", "peer", hex8(p.ID[:]), "err", err)
			continue
		}
		return joined{base: ds[0].Record, tip: ds[1]}, nil
	}
	return joined{}, errNoAnchor
}

// verifyAnchor checks step 1: tip follows prev with a valid quorum certificate of prev's UNL that
// includes a trusted signer, and tip's inputs are the ones it records.
func verifyAnchor(contractID string, trusted map[consensus.PubKey]bool, prev *consensus.Record, tip *consensus.Decided) error {
	if err := consensus.VerifyRecord(contractID, prev, &tip.Record); err != nil {
		return err
	}
	// VerifyRecord checked every vote of a member of prev's UNL; a trusted key's vote counts only
	// if that key is such a member.
	cfg := prev.Value.Result.Config
	signed := false
	for _, v := range tip.Record.Cert {
		signed = signed || (trusted[v.Signer] && cfg.Contains(v.Signer))
	}
	if !signed {
		return fmt.Errorf("ledger %d is not signed by a trusted key", tip.Record.Seq)
	}
	if len(tip.Inputs) != len(tip.Record.Value.Inputs) {
		return fmt.Errorf("ledger %d: %d inputs for %d input hashes", tip.Record.Seq, len(tip.Inputs), len(tip.Record.Value.Inputs))
	}
	for i := range tip.Inputs {
		if tip.Inputs[i].Ordered() != tip.Record.Value.Inputs[i] {
			return fmt.Errorf("ledger %d: input %d does not match the record", tip.Record.Seq, i)
		}
	}
	return nil
}

// prepareConsensus opens the node's stores and builds the consensus state machine: resuming a
// known chain, starting a new cluster from the seeded state (genesis), or joining a running
// cluster from a blank state (joinCluster).
func (n *Node) prepareConsensus(ctx context.Context) (*consensus.Node, error) {
	l, cfg := n.layout, n.config()
	_, err := os.Stat(filepath.Join(l.Ledger(), "meta"))
	freshStore := errors.Is(err, fs.ErrNotExist)
	head, err := n.fs.head()
	if err != nil {
		return nil, fmt.Errorf("state head: %w", err)
	}
	if freshStore && n.needsJoin(strings.Trim(head.PatchHash, "0") == "") {
		j, err := n.joinCluster(ctx)
		if err != nil {
			return nil, err
		}
		// The synced patch.cfg now governs: hp.cfg's contract section follows it.
		if _, err := n.ensurePatch(); err != nil {
			return nil, err
		}
		if n.db, _, err = openNodeDB(l.Ledger(), cfg.Contract.ID, j.base, cfg.Ledger.KeepLedgers, n.logger); err != nil {
			return nil, err
		}
		if err := n.db.persist(nil, []consensus.Decided{j.tip}); err != nil {
			n.db.close()
			return nil, err
		}
		if err := n.db.saveResult(j.tip.Record.Value.Result); err != nil {
			n.db.close()
			return nil, err
		}
		cons, err := n.newConsensus()
		if err != nil {
			n.db.close()
		}
		return cons, err
	}
	initial, err := n.ensurePatch()
	if err != nil {
		return nil, err
	}
	var fresh bool
	if n.db, fresh, err = openNodeDB(l.Ledger(), cfg.Contract.ID, consensus.Genesis(0, initial), cfg.Ledger.KeepLedgers, n.logger); err != nil {
		return nil, err
	}
	if fresh {
		err = n.db.saveResult(initial)
	} else {
		if _, cerr := n.catchUpLedgers(ctx); cerr != nil {
			// Not fatal: consensus fetches what is still missing ledger by ledger.
			n.logger.Warn("ledger catch-up", "err", cerr)
		}
		err = n.catchUpState(ctx)
	}
	if err != nil {
		n.db.close()
		return nil, err
	}
	cons, err := n.newConsensus()
	if err != nil {
		n.db.close()
	}
	return cons, err
}

// catchUpState handles a restart whose state lags its chain by more than the one ledger consensus
// can re-execute (an observer that closed ledgers from certificates faster than it executed them,
// then stopped): it syncs the state to the tip's recorded result, as a joining node does.
func (n *Node) catchUpState(ctx context.Context) error {
	st, err := n.db.load()
	if err != nil {
		return err
	}
	if st.result.Seq+1 >= st.tip.Seq {
		return nil
	}
	res := st.tip.Value.Result
	n.logger.Info("state is behind the ledger; bringing it to the state the tip records", "executed", st.result.Seq, "tip", st.tip.Seq,
		"target", hex8(res.StateHash[:]))
	head, err := n.fs.head()
	for err != nil || head.Root != merkle.Hash(res.StateHash).String() {
		err = n.syncTo(ctx, merkle.Hash(res.StateHash))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n.logger.Warn("catch-up state sync failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(syncRetry):
		}
	}
	// The synced state (here or beside the ledger fetch) may carry another patch.cfg.
	if _, err := n.ensurePatch(); err != nil {
		return err
	}
	return n.db.saveResult(res)
}
