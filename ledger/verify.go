package ledger

import (
	"errors"
	"fmt"

	"github.com/hpfs/hpnode/consensus"
)

// VerifyChain checks every retained record from the oldest to the tip: each links to its
// predecessor by hash and carries a quorum certificate of the UNL its predecessor configures. With
// every record retained it starts at genesis; after pruning, the oldest retained record is the
// trusted starting point. It returns the number of records checked.
func (s *Store) VerifyChain() (int, error) {
	prev := s.Genesis()
	from := prev.Seq + 1
	tip := s.Tip()
	if tip.Seq == prev.Seq {
		return 0, nil
	}
	if s.First() > from {
		r, err := s.Record(s.First())
		if err != nil {
			return 0, fmt.Errorf("verify chain: %w", err)
		}
		prev, from = r, s.First()+1
	}
	n := 0
	for seq := from; seq <= tip.Seq; seq++ {
		r, err := s.Record(seq)
		if err != nil {
			return n, fmt.Errorf("verify chain: %w", err)
		}
		if err := consensus.VerifyRecordWith(s.opts.Verify, s.contractID, &prev, &r); err != nil {
			return n, fmt.Errorf("verify chain at %d: %w", seq, err)
		}
		prev = r
		n++
	}
	return n, nil
}

// VerifyFetched checks ledgers a syncing node fetched from peers, in order, starting after a record
// it trusts (its own tip, or genesis). Nothing else is needed: hash links and the certificates of
// the UNL each predecessor configures. A peer that sends a bad ledger is identified by the index.
func VerifyFetched(verify consensus.SigVerifier, contractID string, trusted consensus.Record, fetched []consensus.Record) error {
	if verify == nil {
		verify = consensus.Ed25519Verify
	}
	prev := trusted
	for i := range fetched {
		if err := consensus.VerifyRecordWith(verify, contractID, &prev, &fetched[i]); err != nil {
			return fmt.Errorf("fetched ledger %d (index %d): %w", fetched[i].Seq, i, err)
		}
		prev = fetched[i]
	}
	return nil
}

// History returns up to k most recent ledgers with their inputs, oldest first: what
// consensus.Config.History needs after a restart.
func (s *Store) History(k int) ([]consensus.Decided, error) {
	var out []consensus.Decided
	for seq := s.Tip().Seq; seq > s.Genesis().Seq && seq >= s.First() && len(out) < k; seq-- {
		r, err := s.Record(seq)
		if err != nil {
			return nil, err
		}
		ins, err := s.Inputs(seq)
		if errors.Is(err, ErrNotFound) {
			break // raw data pruned: older ledgers cannot seed a restart anyway
		}
		if err != nil {
			return nil, err
		}
		out = append(out, consensus.Decided{Record: r, Inputs: ins})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
