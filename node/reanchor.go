package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/ledger"
)

// Re-anchoring. A node that was away longer than its peers retain ledgers (ledger.keep_ledgers)
// cannot extend its chain: the ledgers between its tip and theirs exist nowhere any more. It then
// starts its chain again from the peers' last two ledgers, exactly as a blank node joins (see
// joinCluster), trusting the keys of the UNL its own tip configures: the new tip must carry a valid
// certificate of its predecessor's UNL that includes one of those keys. The state then follows by
// catchUpState, as after any catch-up.
//
// Two stores change: the chain (ledger.Store.Reanchor, one synced batch) and the genesis copy in
// the node's meta store that openNodeDB opens the chain with. A crash between the two must not
// leave a node that cannot open its chain, so the new base is written to meta under
// pendingGenesisKey first; openNodeDB finishes (or drops) a pending re-anchor by which genesis the
// chain accepts.

// pendingGenesisKey holds the base of a re-anchor in progress.
const pendingGenesisKey = "reanchor"

// reanchor re-anchors the chain when no peer serves the ledger after this node's tip. It reports
// whether the chain moved.
func (n *Node) reanchor(ctx context.Context) (bool, error) {
	local := n.db.chain.Tip()
	trusted := map[consensus.PubKey]bool{}
	for _, k := range local.Value.Result.Config.UNL {
		trusted[k] = true
	}
	j, err := n.fetchAnchor(ctx, trusted)
	if err != nil {
		return false, fmt.Errorf("reanchor: %w", err)
	}
	if j.tip.Record.Seq <= local.Seq+1 {
		return false, nil // the peers are not ahead by more than one ledger: nothing was pruned
	}
	if err := n.db.reanchor(j.base, j.tip); err != nil {
		return false, err
	}
	n.logger.Warn("peers no longer keep the ledgers after this node's tip; chain re-anchored at their tip",
		"was", local.Seq, "base", j.base.Seq, "tip", j.tip.Record.Seq)
	return true, nil
}

// reanchor replaces the chain with base and tip (see the comment at the top of this file).
func (d *nodeDB) reanchor(base consensus.Record, tip consensus.Decided) error {
	b, err := base.MarshalBinary()
	if err != nil {
		return fmt.Errorf("reanchor: encode base: %w", err)
	}
	if err := d.meta.Set([]byte(pendingGenesisKey), b, pebble.Sync); err != nil {
		return fmt.Errorf("reanchor: node store: %w", err)
	}
	if err := d.chain.Reanchor(base, tip); err != nil {
		_ = d.meta.Delete([]byte(pendingGenesisKey), pebble.Sync)
		return err
	}
	return d.finishReanchor(b)
}

// finishReanchor makes base, the encoded genesis the chain now holds, the meta store's genesis.
func (d *nodeDB) finishReanchor(base []byte) error {
	batch := d.meta.NewBatch()
	defer batch.Close()
	_ = batch.Set([]byte("genesis"), base, nil)
	_ = batch.Delete([]byte(pendingGenesisKey), nil)
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("reanchor: node store: %w", err)
	}
	return nil
}

// openReanchoredChain opens the chain of a node store that has a pending re-anchor: with the new
// base if the chain took it (and then completes the meta store), else with the old genesis (and
// then drops the pending base). It returns the genesis the chain was opened with.
func openReanchoredChain(meta *pebble.DB, pending []byte, open func(consensus.Record) (*ledger.Store, error), old consensus.Record) (*ledger.Store, consensus.Record, error) {
	var base consensus.Record
	if err := base.UnmarshalBinary(pending); err != nil {
		return nil, old, fmt.Errorf("node store: pending re-anchor: %w", err)
	}
	chain, err := open(base)
	if err == nil {
		d := &nodeDB{chain: chain, meta: meta}
		if err := d.finishReanchor(pending); err != nil {
			chain.Close()
			return nil, old, err
		}
		return chain, base, nil
	}
	if !errors.Is(err, ledger.ErrGenesisMismatch) {
		return nil, old, err
	}
	if err := meta.Delete([]byte(pendingGenesisKey), pebble.Sync); err != nil {
		return nil, old, fmt.Errorf("node store: %w", err)
	}
	chain, err = open(old)
	return chain, old, err
}
