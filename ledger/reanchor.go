package ledger

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/consensus"
)

// Reanchor replaces the whole chain with one that starts at base and holds tip, tip checked
// against base as AppendAll checks a successor. It is for a node that fell behind further than its
// peers retain ledgers: the ledgers between its tip and theirs exist nowhere any more, so it cannot
// extend its chain and instead starts again from a recent pair, as a joining node does. The caller
// must have authenticated base (a key it trusts signed tip, and tip commits to base's hash); the
// store only checks the link and the certificate.
//
// Records, raw inputs and raw outputs of the old chain are deleted and the new genesis stored in one
// synced batch: after a crash the store holds either the old chain or the new one.
func (s *Store) Reanchor(base consensus.Record, tip consensus.Decided) error {
	r := &tip.Record
	if err := consensus.VerifyRecordWith(s.opts.Verify, s.contractID, &base, r); err != nil {
		return fmt.Errorf("reanchor at ledger %d: %w", r.Seq, err)
	}
	if len(tip.Inputs) != len(r.Value.Inputs) {
		return fmt.Errorf("reanchor at ledger %d: %d inputs for %d input hashes", r.Seq, len(tip.Inputs), len(r.Value.Inputs))
	}
	for j := range tip.Inputs {
		if tip.Inputs[j].Ordered() != r.Value.Inputs[j] {
			return fmt.Errorf("reanchor at ledger %d: input %d does not match the record", r.Seq, j)
		}
	}
	gb, err := base.MarshalBinary()
	if err != nil {
		return fmt.Errorf("reanchor: encode base %d: %w", base.Seq, err)
	}
	rb, err := r.MarshalBinary()
	if err != nil {
		return fmt.Errorf("reanchor: encode ledger %d: %w", r.Seq, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, kind := range []byte{kindRecord, kindInputs, kindOutputs} {
		_ = b.DeleteRange([]byte{kind}, []byte{kind + 1}, nil)
	}
	_ = b.Set(key(kindGenesis, 0), gb, nil)
	_ = b.Set(key(kindRecord, r.Seq), rb, nil)
	if len(tip.Inputs) > 0 {
		ib, err := (&consensus.Message{Type: consensus.MsgInputBatch, Inputs: tip.Inputs}).MarshalBinary()
		if err != nil {
			return fmt.Errorf("reanchor at ledger %d: encode inputs: %w", r.Seq, err)
		}
		_ = b.Set(key(kindInputs, r.Seq), ib, nil)
	}
	var stored consensus.Record
	if err := stored.UnmarshalBinary(rb); err != nil {
		return fmt.Errorf("reanchor at ledger %d: re-decode: %w", r.Seq, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("reanchor at ledger %d: %w", r.Seq, err)
	}
	s.genesis, s.tip, s.first = base, stored, r.Seq
	return nil
}
