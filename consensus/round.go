package consensus

import (
	"bytes"
	"fmt"
	"sort"
	"time"
)

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
// within the liveness tolerance) have been seen at round R or later. Rounds never go back.
func (n *Node) jumpRound() {
	need := len(n.conf.UNL) - n.q + 1
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

// shouldStart is the round trigger: inputs are pending, or the last ledger had inputs (its outputs
// need the next ledger), or RoundTime passed since the last ledger (the idle heartbeat). So an idle
// cluster closes one ledger per RoundTime and never a stream of empty ones.
func (n *Node) shouldStart() bool {
	if n.hadInputs || n.now.Sub(n.lastClose) >= n.cfg.RoundTime {
		return true
	}
	ins, _ := n.pool.pick(&n.cfg, n.pool.all(), n.seq())
	return len(ins) > 0
}

// startRound enters round r at stage 0 and sends this node's own candidate value.
func (n *Node) startRound(r uint32) {
	first := !n.active || r != n.round
	n.active, n.round, n.stage = true, r, -1
	n.hard.Round = r
	n.hardDirty = true
	if !n.voter {
		return
	}
	if first {
		// Our inputs or our lock may not have reached everyone: send them again when a round is
		// retried, and with a new ledger the inputs that already missed one (a healed partition).
		var local []Input
		for _, e := range n.pool.byHash {
			if e.local && (r > 0 || e.since < n.tip.Seq) {
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

// pump starts the next execution, or asks for a state sync when the next ledger records a result of
// the previous one that differs from ours.
func (n *Node) pump() {
	for !n.executing && n.syncing == nil && len(n.queue) > 0 {
		next := n.queue[0]
		if next.Record.Seq <= n.done.Seq {
			n.queue = n.queue[1:]
			continue
		}
		if next.Record.Seq != n.done.Seq+1 {
			return // we lack an older result; a sync will provide it
		}
		if !resultEqual(next.Record.Value.Result, n.done) {
			want := next.Record.Value.Result
			n.syncing = &want
			n.rd.Sync = &SyncTarget{Result: want}
			n.setStatus(StatusDesync)
			return
		}
		if n.status == StatusDesync || !n.voter {
			// The ledger records our own result of its predecessor: we are in step again. (Voters
			// also become synced when they vote; observers only ever learn it here.)
			n.setStatus(StatusSynced)
		}
		n.queue = n.queue[1:]
		n.executing = true
		n.rd.Execute = append(n.rd.Execute, Execution{Record: next.Record, Inputs: next.Inputs})
	}
}

func (n *Node) stepExecResult(r *Result) error {
	if r == nil || !n.executing || r.Seq != n.done.Seq+1 {
		return fmt.Errorf("%w: execution result for %v", ErrUnexpected, r)
	}
	if err := ValidateConfig(r.Config); err != nil {
		return fmt.Errorf("execution result of ledger %d: %w", r.Seq, err)
	}
	n.done = *r
	n.done.Config = r.Config.Clone()
	n.executing = false
	n.pump()
	return nil
}

func (n *Node) stepSyncDone(r *Result) error {
	if r == nil || n.syncing == nil || r.Seq != n.syncing.Seq {
		return fmt.Errorf("%w: sync result for %v", ErrUnexpected, r)
	}
	n.done = *r
	n.done.Config = r.Config.Clone()
	n.syncing = nil
	n.executing = false
	n.pump()
	return nil
}

func resultEqual(a, b Result) bool {
	return a.Seq == b.Seq && a.StateHash == b.StateHash && a.PatchHash == b.PatchHash &&
		a.OutputHash == b.OutputHash && a.Config.Equal(b.Config)
}

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
