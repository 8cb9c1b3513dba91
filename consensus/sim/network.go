package sim

import (
	"fmt"
	"time"

	"github.com/hpfs/hpnode/consensus"
)

// The virtual network: encoding, loss, duplication, delay (hence reordering) and partitions.

func (w *world) sendFrom(n *simNode, m consensus.Message) {
	if m.Type == consensus.MsgProposal && m.Proposal.Stage == consensus.StagePropose && m.Proposal.Signer == n.key {
		// Count rounds entered, not retransmissions of their stage-0 proposals.
		if r := [2]uint64{m.Proposal.Seq, uint64(m.Proposal.Round)}; r != n.lastRound {
			n.lastRound = r
			w.rep.Rounds++
		}
	}
	if m.Type == consensus.MsgLedgerRequest {
		w.rep.LedgerRequests++
	}
	// Every message crosses the network as bytes, decoded once per send: nodes never modify what they
	// receive, so recipients share the decoded message.
	data, err := w.wire(&m)
	if err != nil {
		w.err = fmt.Errorf("sim: node %d: %w", n.idx, err)
		return
	}
	var alt *consensus.Message
	if n.byz && m.Type == consensus.MsgProposal {
		p := *m.Proposal
		p.Value = p.Value.Clone()
		p.Value.Time++
		p.Sign(n.signer)
		if alt, err = w.wire(&consensus.Message{Type: consensus.MsgProposal, Proposal: &p}); err != nil {
			w.err = fmt.Errorf("sim: node %d: %w", n.idx, err)
			return
		}
	}
	for _, to := range w.nodes {
		if to == n || (m.To != (consensus.PubKey{}) && m.To != to.key) {
			continue
		}
		payload := data
		if alt != nil && to.idx%2 == 1 {
			payload = alt
		}
		w.deliver(n.idx, to.idx, payload)
	}
}

func (w *world) wire(m *consensus.Message) (*consensus.Message, error) {
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", m.Type, err)
	}
	var out consensus.Message
	if err := out.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("decode %s: %w", m.Type, err)
	}
	return &out, nil
}

func (w *world) deliver(from, to int, data *consensus.Message) {
	if w.group != nil && w.group[from] != w.group[to] {
		return
	}
	if w.rng.Float64() < w.o.Drop {
		return
	}
	copies := 1
	if w.rng.Float64() < w.o.Dup {
		copies = 2
	}
	for c := 0; c < copies; c++ {
		d := w.o.MinDelay + time.Duration(w.rng.Int64N(int64(w.o.MaxDelay-w.o.MinDelay)+1))
		if w.o.StreamRate > 0 {
			// FIFO links: a message never overtakes an earlier one from the same sender.
			l := [2]int{from, to}
			d = max(d, w.link[l]-w.now)
			w.link[l] = w.now + d
		}
		w.at(d, &event{kind: evDeliver, node: to, epoch: from, msg: data})
	}
}
