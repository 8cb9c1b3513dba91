package consensus

import (
	"fmt"
	"time"
)

// Catching up: asking peers for closed ledgers, answering them, and checking what they send.

// requestLedger asks one peer (or all, for a zero key) for the ledger this node is missing.
func (n *Node) requestLedger(to PubKey) {
	n.lastReq = n.now
	n.send(Message{Type: MsgLedgerRequest, To: to, Seq: n.seq()})
}

// answer sends a closed ledger to a peer that asked for it or is still voting on it.
func (n *Node) answer(to PubKey, seq uint64) {
	if to == (PubKey{}) || to == n.id {
		return
	}
	if t, ok := n.answered[to]; ok && n.now.Sub(t) < n.cfg.StageTimeout/2 {
		return
	}
	for i := len(n.recent) - 1; i >= 0; i-- {
		d := n.recent[i]
		if d.Record.Seq == seq {
			n.answered[to] = n.now
			if len(n.answered) > 4*MaxUNL {
				n.answered = map[PubKey]time.Time{to: n.now}
			}
			rec := d.Record
			n.send(Message{Type: MsgLedgerResponse, To: to, Record: &rec, Inputs: d.Inputs})
			return
		}
	}
}

func (n *Node) stepLedgerResponse(m Message) error {
	r := m.Record
	if r == nil {
		return fmt.Errorf("%w: ledger response without record", ErrMalformed)
	}
	if r.Seq != n.seq() {
		if r.Seq > n.maxSeen {
			n.maxSeen = r.Seq
		}
		return nil
	}
	if err := VerifyRecordWith(n.cfg.Verify, n.cfg.ContractID, &n.tip, r); err != nil {
		return fmt.Errorf("ledger response: %w", err)
	}
	if len(m.Inputs) != len(r.Value.Inputs) {
		return fmt.Errorf("%w: ledger %d response has %d inputs, ledger has %d", ErrMalformed, r.Seq, len(m.Inputs), len(r.Value.Inputs))
	}
	for i := range m.Inputs {
		in := &m.Inputs[i]
		if in.Ordered() != r.Value.Inputs[i] {
			return fmt.Errorf("%w: ledger %d response input %d does not match", ErrMalformed, r.Seq, i)
		}
		if err := n.cfg.VerifyInput(in); err != nil {
			return fmt.Errorf("ledger %d response input %d: %w", r.Seq, i, err)
		}
	}
	n.apply(r.cloneRecord(), cloneInputs(m.Inputs))
	return nil
}

func (r *Record) cloneRecord() Record {
	c := *r
	c.Value = r.Value.Clone()
	c.Cert = append([]Vote(nil), r.Cert...)
	return c
}

func cloneInputs(ins []Input) []Input {
	out := make([]Input, len(ins))
	for i := range ins {
		out[i] = ins[i]
		out[i].Container = append([]byte(nil), ins[i].Container...)
	}
	return out
}
