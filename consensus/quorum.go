package consensus

import (
	"bytes"
	"sort"
)

// Quorums: locking on a stage-2 quorum, precommitting, and closing a ledger on a stage-3 quorum.

func (n *Node) distinct(round uint32, stage uint8) []Hash {
	seen := map[Hash]bool{}
	var out []Hash
	for _, vs := range n.props[key(round, stage)] {
		for _, v := range vs {
			if !seen[v.vh] {
				seen[v.vh] = true
				out = append(out, v.vh)
			}
		}
	}
	return out
}

func (n *Node) matching(round uint32, stage uint8, vh Hash) []vote {
	var out []vote
	for _, vs := range n.props[key(round, stage)] {
		for _, v := range vs {
			if v.vh == vh {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].p.Signer[:], out[j].p.Signer[:]) < 0 })
	return out
}

// checkPolka reacts to a quorum of stage-2 votes for one value in a round: lock on it if the round
// is later than the current lock, and precommit it if the round is the current one and this node
// has not precommitted in it. Precommitting only in the current round is what makes the lock
// argument in doc.go hold.
func (n *Node) checkPolka(round uint32, vh Hash) {
	votes := n.matching(round, StagePrevote, vh)
	if len(votes) < n.q {
		return
	}
	if !n.hard.Locked || round > n.hard.LockRound {
		n.hard.Locked, n.hard.LockRound, n.hard.Lock = true, round, votes[0].p.Value.Clone()
		n.hardDirty = true
		n.lockProof = n.lockProof[:0]
		for _, v := range votes {
			n.lockProof = append(n.lockProof, v.p)
		}
	}
	if !n.voter || round != n.round || !n.active || n.stage >= int(StagePrecommit) {
		return
	}
	res := n.ownResult()
	if res == nil || !resultEqual(*res, votes[0].p.Value.Result) {
		return // a desynced node does not vouch for a result it did not compute
	}
	n.sendStage(StagePrecommit, votes[0].p.Value.Clone())
}

// checkDecide closes the ledger once a quorum of stage-3 votes of one round agree on a value.
func (n *Node) checkDecide(round uint32, vh Hash) {
	votes := n.matching(round, StagePrecommit, vh)
	if len(votes) < n.q || n.pending != nil {
		return
	}
	rec := Record{Seq: n.seq(), Prev: n.tipH, Round: round, Value: votes[0].p.Value.Clone()}
	for _, v := range votes {
		rec.Cert = append(rec.Cert, Vote{Signer: v.p.Signer, Sig: v.p.Sig, OutputSig: v.p.OutputSig})
	}
	ins, ok := n.pool.get(rec.Value.Inputs)
	if !ok {
		n.pending = &rec
		n.requestLedger(PubKey{})
		return
	}
	n.apply(rec, ins)
}

// apply makes a closed ledger the tip and opens the next sequence.
func (n *Node) apply(rec Record, ins []Input) {
	h := rec.Hash()
	n.cfg.Logger.Info("ledger closed", "ledger", rec.Seq, "hash", h, "round", rec.Round, "inputs", len(ins))
	d := Decided{Record: rec, Inputs: ins}
	n.rd.Ledgers = append(n.rd.Ledgers, d)
	n.rd.InputStatuses = append(n.rd.InputStatuses, n.pool.commit(rec.Seq, h, ins)...)
	old := n.conf
	n.setTip(rec)
	if !old.Equal(n.conf) {
		c := n.conf.Clone()
		n.rd.ConfigChanged = &c
	}
	n.remember(d)
	n.queue = append(n.queue, d)
	n.resetRound()
	n.hardDirty = true
	n.lastClose = n.now
	n.hadInputs = len(ins) > 0
	n.pump()
	ahead := n.ahead
	n.ahead = nil
	for _, p := range ahead {
		if p.Seq == n.seq() {
			_ = n.stepProposal(p, false) // verified on arrival; a refusal here is the sender's fault
		}
	}
	if n.maxSeen > n.seq() {
		n.lastReq = n.now
		n.requestLedger(PubKey{})
	}
}
