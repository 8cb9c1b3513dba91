package consensus

import (
	"bytes"
	"fmt"
	"sort"
)

// The round driver: receiving proposals, entering rounds and stages, and sending this node's own.

// stepProposal verifies and stores a proposal and reacts to it. verify is false for proposals the
// node buffered earlier and already verified.
func (n *Node) stepProposal(p *Proposal, verify bool) error {
	if p.ContractID != n.cfg.ContractID {
		return fmt.Errorf("proposal for %q: %w", p.ContractID, ErrWrongContract)
	}
	if verify {
		if err := p.VerifyWith(n.cfg.Verify); err != nil {
			return err
		}
	}
	switch {
	case p.Seq < n.seq():
		// A lagging node: hand it the ledger it is voting on, at most once per timeout.
		if p.Signer != n.id {
			n.answer(p.Signer, p.Seq)
		}
		return nil
	case p.Seq > n.seq():
		if p.Seq > n.maxSeen {
			n.maxSeen = p.Seq
		}
		if p.Seq == n.seq()+1 && len(n.ahead) < maxAhead {
			n.ahead = append(n.ahead, p)
		}
		if p.Seq > n.seq()+1 {
			n.setStatus(StatusDesync)
		}
		if n.lastReq.IsZero() || n.now.Sub(n.lastReq) >= n.cfg.StageTimeout {
			n.requestLedger(p.Signer)
		}
		return nil
	}
	if !n.conf.Contains(p.Signer) {
		return fmt.Errorf("proposal seq %d from %s: %w", p.Seq, p.Signer, ErrNotUNL)
	}
	if p.Prev != n.tipH {
		// Signed on another chain: a fork we are not on, or a Byzantine signer. It cannot count.
		return fmt.Errorf("proposal seq %d from %s on prev %s, ours %s: %w", p.Seq, p.Signer, p.Prev, n.tipH, ErrBrokenChain)
	}
	if p.Stage == StagePropose && len(p.Value.Nonces) != 1 {
		return fmt.Errorf("%w: stage-0 proposal with %d nonces", ErrMalformed, len(p.Value.Nonces))
	}
	if r, ok := n.maxRound[p.Signer]; (!ok || p.Round > r) && p.Signer != n.id {
		n.maxRound[p.Signer] = p.Round
	}
	if p.Round > n.round+maxRoundsAhead {
		// Far-future rounds are only remembered as the signer's round (for jumpRound), so a faulty
		// member cannot make this node store proposals for arbitrarily many rounds.
		n.jumpRound()
		return nil
	}
	k := key(p.Round, p.Stage)
	vh := p.valueHash()
	set := n.props[k]
	if set == nil {
		set = map[PubKey][]vote{}
		n.props[k] = set
	}
	var equivocation error
	for _, old := range set[p.Signer] {
		if old.vh == vh {
			return nil
		}
	}
	if len(set[p.Signer]) > 0 {
		// Keep a second version so that a quorum an honest node saw (which may include either
		// version) can still be checked here; a third is useless, so memory stays bounded.
		equivocation = fmt.Errorf("seq %d round %d stage %d from %s: %w", p.Seq, p.Round, p.Stage, p.Signer, ErrEquivocation)
		if len(set[p.Signer]) >= 2 {
			return equivocation
		}
	}
	set[p.Signer] = append(set[p.Signer], vote{p: p, vh: vh})
	switch p.Stage {
	case StagePrevote:
		n.checkPolka(p.Round, vh)
	case StagePrecommit:
		n.checkDecide(p.Round, vh)
	}
	if p.Seq != n.seq() {
		return equivocation // the proposal closed the ledger
	}
	n.jumpRound()
	if !n.active && p.Round >= n.round && n.voter {
		n.startRound(n.round) // join the round another member started
	}
	return equivocation
}

// jumpRound moves to round R once n-q+1 UNL members (so at least one honest one, while faults stay
// within the liveness tolerance) have been seen at round R or later, or q-1 when that is fewer.
// Rounds never go back.
//
// The q-1 bound matters when 2q < n+2 (e.g. 60% of 3: q = 2): then exactly q live members can be
// all there is, and they are this node and q-1 others, never n-q+1 others. Without it, two live
// members whose rounds drifted apart (one restarted, or timed out alone) would each time out at the
// same capped period forever, a fixed number of rounds apart, and never close a ledger again.
// Trusting fewer witnesses costs no fault tolerance there: such a UNL tolerates no Byzantine
// member anyway (SafetyTolerance is 2q-n-1 <= 0), and a jump never affects safety (locks do).
func (n *Node) jumpRound() {
	need := max(1, min(len(n.conf.UNL)-n.q+1, n.q-1))
	if len(n.maxRound) < need {
		return
	}
	rs := make([]uint32, 0, len(n.maxRound))
	for _, r := range n.maxRound {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] > rs[j] })
	if r := rs[need-1]; r > n.round {
		if n.voter {
			n.startRound(r)
		} else {
			n.round = r
		}
	}
}

// advance takes every step the node's state allows, until none is left.
func (n *Node) advance() {
	for i := 0; i < 8; i++ {
		if !n.voter {
			return
		}
		if !n.active {
			if !n.shouldStart() {
				return
			}
			n.startRound(n.round)
			continue
		}
		switch n.stage {
		case 0:
			res := n.ownResult()
			if n.count(n.round, 0) < n.q || res == nil {
				return
			}
			n.sendStage(StageMerge, n.mergeValue(*res))
		case 1:
			res := n.ownResult()
			if n.count(n.round, 1) < n.q || res == nil {
				return
			}
			if _, ok := n.props[key(n.round, StageMerge)][n.leader(n.round)]; !ok && n.now.Sub(n.stageAt) < n.cfg.StageTimeout/2 {
				return // give the leader's value a moment: it is everyone's tie-break
			}
			if win, ok := n.pluralityResult(); ok && !resultEqual(win, *res) {
				n.cfg.Logger.Info("execution result differs from majority", "ledger", n.tip.Seq, "ours", res.StateHash, "majority", win.StateHash)
				n.syncing = &win
				n.rd.Sync = &SyncTarget{Result: win}
				n.setStatus(StatusDesync)
				return
			}
			var v Value
			if n.hard.Locked {
				if !resultEqual(n.hard.Lock.Result, *res) {
					return
				}
				v = n.hard.Lock.Clone()
			} else {
				var ok bool
				if v, ok = n.prevoteChoice(*res); !ok {
					return
				}
			}
			n.sendStage(StagePrevote, v)
			n.setStatus(StatusSynced)
		default:
			return
		}
	}
}

// shouldStart is the round trigger: inputs are pending that arrived since the last two ledgers
// closed, or the last ledger had inputs (its outputs need the next ledger), or RoundTime passed
// since the last ledger (the idle heartbeat). So an idle cluster closes one ledger per RoundTime
// and never a stream of empty ones: an input that missed two ledgers is one too few members hold
// (mergeValue orders only inputs with a quorum of stage-0 votes), and it waits for the heartbeat
// and the resend that comes with it instead of triggering empty ledgers at network speed.
func (n *Node) shouldStart() bool {
	if n.hadInputs || n.now.Sub(n.lastClose) >= n.cfg.RoundTime {
		return true
	}
	var fresh []OrderedHash
	for oh, e := range n.pool.byHash {
		if e.since+2 > n.tip.Seq {
			fresh = append(fresh, oh)
		}
	}
	if len(fresh) == 0 {
		return false
	}
	ins, _ := n.pool.pick(&n.cfg, fresh, n.seq())
	return len(ins) > 0
}

// startRound enters round r at stage 0 and sends this node's own candidate value.
func (n *Node) startRound(r uint32) {
	first := !n.active || r != n.round
	prev, retried := n.round, n.active && r > n.round
	n.active, n.round, n.stage = true, r, -1
	n.hard.Round = r
	n.hardDirty = true
	if !n.voter {
		return
	}
	if first {
		// Our inputs or our lock may not have reached everyone: send them again with a new ledger
		// when they already missed two (a lost relay, a healed partition), and when a round is
		// retried unless every peer's stage-0 proposal of the round we leave held them. Missing one
		// ledger is normal while inputs flow: an input arriving during a round waits for the next
		// one (mergeValue). Resending everything on every retry would, in a burst, add thousands of
		// inputs to the traffic of exactly the rounds that already struggle.
		heldByPeers := func(OrderedHash) bool { return false }
		if retried {
			heldByPeers = n.proposedByPeers(prev)
		}
		var local []Input
		for oh, e := range n.pool.byHash {
			if e.local && (e.since+1 < n.tip.Seq || (r > 0 && !heldByPeers(oh))) {
				local = append(local, e.in)
			}
		}
		sort.Slice(local, func(i, j int) bool {
			a, b := local[i].Ordered(), local[j].Ordered()
			return bytes.Compare(a[:], b[:]) < 0
		})
		n.sendInputs(local)
		for _, p := range n.lockProof {
			n.send(Message{Type: MsgProposal, Proposal: p})
		}
	}
	ins, users := n.pool.pick(&n.cfg, n.pool.all(), n.seq())
	v := Value{
		Time:   n.nowMillis(),
		Users:  capUsers(users, n.users),
		Inputs: ins,
		Nonces: []Hash{n.nonce()},
	}
	if res := n.ownResult(); res != nil {
		v.Result = *res
	}
	n.sendStage(StagePropose, v)
}

// proposedByPeers returns whether an input is in the stage-0 proposal of every peer that sent one
// in round r; false for every input when no peer did (nothing is known about what they hold).
// Stage-0 input lists are strictly sorted (the decoder checks it), so each lookup is a search.
func (n *Node) proposedByPeers(r uint32) func(OrderedHash) bool {
	var lists [][]OrderedHash
	for signer, vs := range n.props[key(r, StagePropose)] {
		if signer != n.id {
			lists = append(lists, vs[0].p.Value.Inputs)
		}
	}
	return func(oh OrderedHash) bool {
		for _, l := range lists {
			i := sort.Search(len(l), func(i int) bool { return bytes.Compare(l[i][:], oh[:]) >= 0 })
			if i == len(l) || l[i] != oh {
				return false
			}
		}
		return len(lists) > 0
	}
}

func (n *Node) nowMillis() uint64 {
	t := uint64(max(n.now.UnixMilli(), 0))
	if t <= n.tip.Value.Time {
		t = n.tip.Value.Time + 1
	}
	return t
}

// sendStage signs and broadcasts this node's proposal for a stage of the current round, and counts
// it like any other.
func (n *Node) sendStage(stage uint8, v Value) {
	p := &Proposal{ContractID: n.cfg.ContractID, Stage: stage, Seq: n.seq(), Round: n.round, Prev: n.tipH, Value: v}
	p.Sign(n.cfg.Signer)
	n.stage = int(stage)
	n.stageAt, n.lastSend = n.now, n.now
	n.send(Message{Type: MsgProposal, Proposal: p})
	k := key(p.Round, stage)
	if n.props[k] == nil {
		n.props[k] = map[PubKey][]vote{}
	}
	vh := p.valueHash()
	n.props[k][n.id] = []vote{{p: p, vh: vh}}
	switch stage {
	case StagePrevote:
		// A quorum may have formed before our own prevote arrived here.
		for _, h := range n.distinct(n.round, StagePrevote) {
			n.checkPolka(n.round, h)
		}
	case StagePrecommit:
		n.checkDecide(n.round, vh)
	}
}
