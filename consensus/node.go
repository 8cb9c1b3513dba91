package consensus

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Errors Step returns for messages it refuses.
var (
	// ErrNotUNL means a proposal's signer is not in the UNL governing its sequence.
	ErrNotUNL = errors.New("consensus: signer not in UNL")
	// ErrWrongContract means a proposal is for another contract.
	ErrWrongContract = errors.New("consensus: proposal for another contract")
	// ErrEquivocation means a signer sent two different proposals for one (seq, round, stage).
	ErrEquivocation = errors.New("consensus: equivocating proposal")
	// ErrUnexpected means a local report does not match what the node asked for.
	ErrUnexpected = errors.New("consensus: unexpected local message")
)

// vote is a stored proposal with its value hash computed once.
type vote struct {
	p  *Proposal
	vh Hash
}

// maxAhead bounds proposals buffered for the next sequence while this one is still open.
const maxAhead = 4 * MaxUNL

// maxRoundsAhead bounds how far beyond its own round a node stores proposals.
const maxRoundsAhead = 16

// Node is one participant's consensus state machine. It is not safe for concurrent use: the shell
// serializes Step, Tick, Ready and Advance.
type Node struct {
	cfg Config
	id  PubKey
	now time.Time

	tip    Record
	tipH   Hash
	conf   UNLConfig // governs seq = tip.Seq+1
	q      int
	voter  bool
	recent []Decided
	pool   pool
	users  []PubKey

	// Execution pipeline: done is the latest result the node knows (Seq <= tip.Seq); queue holds
	// closed ledgers after done.Seq still to execute, in order.
	done      Result
	queue     []Decided
	executing bool
	syncing   *Result

	// The open round for seq = tip.Seq+1.
	round     uint32
	stage     int // highest stage sent in this round, -1 for none
	active    bool
	stageAt   time.Time
	lastSend  time.Time
	lastClose time.Time
	hadInputs bool
	props     map[uint64]map[PubKey][]vote // key: round<<8 | stage; two versions at most per signer
	maxRound  map[PubKey]uint32
	ahead     []*Proposal
	hard      HardState
	lockProof []*Proposal
	pending   *Record // closed by certificate but missing raw inputs
	maxSeen   uint64
	lastReq   time.Time
	answered  map[PubKey]time.Time
	status    VoteStatus

	rd        Ready
	hardDirty bool
}

// NewNode returns a node resuming from cfg.Tip and cfg.Hard at time now.
func NewNode(cfg Config, now time.Time) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, id: cfg.Signer.PublicKey(), now: now, pool: newPool(), answered: map[PubKey]time.Time{}}
	n.setTip(cfg.Tip)
	for _, d := range cfg.History {
		if d.Record.Seq <= cfg.Tip.Seq {
			n.pool.commit(d.Record.Seq, d.Record.Hash(), d.Inputs)
			n.remember(d)
		}
	}
	n.done = cfg.Result
	if cfg.Result.Seq < cfg.Tip.Seq {
		d := Decided{Record: cfg.Tip, Inputs: cfg.TipInputs}
		n.queue = append(n.queue, d)
		n.remember(d)
	}
	n.lastClose = time.UnixMilli(int64(cfg.Tip.Value.Time))
	n.resetRound()
	if cfg.Hard.Seq == n.seq() {
		// Never vote twice in a round after a restart: resume one round later, keeping the lock.
		n.round = cfg.Hard.Round + 1
		n.hard = cfg.Hard
		n.hard.Lock = cfg.Hard.Lock.Clone()
	}
	n.hard.Seq, n.hard.Round = n.seq(), n.round
	n.hardDirty = true
	n.pump()
	return n, nil
}

func (n *Node) seq() uint64 { return n.tip.Seq + 1 }

func (n *Node) setTip(r Record) {
	n.tip = r
	n.tipH = r.Hash()
	n.conf = r.Value.Result.Config
	n.q = CloseQuorum(n.conf.Threshold, len(n.conf.UNL))
	n.voter = n.conf.Contains(n.id)
}

func (n *Node) remember(d Decided) {
	n.recent = append(n.recent, d)
	if len(n.recent) > n.cfg.KeepLedgers {
		n.recent = append(n.recent[:0:0], n.recent[len(n.recent)-n.cfg.KeepLedgers:]...)
	}
}

func (n *Node) resetRound() {
	n.round, n.stage, n.active = 0, -1, false
	n.props = map[uint64]map[PubKey][]vote{}
	n.maxRound = map[PubKey]uint32{}
	n.hard = HardState{Seq: n.seq()}
	n.lockProof = nil
	n.pending = nil
}

// Status returns the current vote status.
func (n *Node) Status() VoteStatus { return n.status }

// Tip returns the last closed ledger.
func (n *Node) Tip() Record { return n.tip }

// Round returns the open sequence and round.
func (n *Node) Round() (seq uint64, round uint32) { return n.seq(), n.round }

// Ready returns the pending effects, and whether there are any.
func (n *Node) Ready() (Ready, bool) {
	if n.hardDirty {
		hs := n.hard
		hs.Lock = n.hard.Lock.Clone()
		n.rd.HardState = &hs
	}
	rd := n.rd
	return rd, !rd.empty()
}

// Advance acknowledges that the caller acted on the last Ready.
func (n *Node) Advance(Ready) {
	n.rd = Ready{}
	n.hardDirty = false
}

func (n *Node) setStatus(s VoteStatus) {
	if s != n.status {
		n.status = s
		n.rd.Status, n.rd.StatusChanged = s, true
	}
}

func (n *Node) send(m Message) { n.rd.Messages = append(n.rd.Messages, m) }

// Step feeds one message (received from a peer or reported by the caller) to the node.
func (n *Node) Step(m Message) error {
	var err error
	switch m.Type {
	case MsgProposal:
		if m.Proposal == nil {
			return fmt.Errorf("%w: proposal message without proposal", ErrMalformed)
		}
		err = n.stepProposal(m.Proposal, true)
	case MsgInputBatch:
		for i := range m.Inputs {
			n.pool.admit(&n.cfg, &m.Inputs[i], false, n.tip.Seq)
		}
	case MsgSubmit:
		n.submit(m.Inputs)
	case MsgLedgerRequest:
		n.answer(m.From, m.Seq)
	case MsgLedgerResponse:
		err = n.stepLedgerResponse(m)
	case MsgExecResult:
		err = n.stepExecResult(m.Result)
	case MsgSyncDone:
		err = n.stepSyncDone(m.Result)
	case MsgUsers:
		n.users = sortKeys(append([]PubKey(nil), m.Users...))
	default:
		return fmt.Errorf("%w: message type %d", ErrMalformed, uint8(m.Type))
	}
	n.advance()
	return err
}

func (n *Node) submit(ins []Input) {
	var ok []Input
	for i := range ins {
		in := &ins[i]
		if r, good := n.pool.admit(&n.cfg, in, true, n.tip.Seq); !good {
			if r != ReasonAlreadySubmitted {
				n.rd.InputStatuses = append(n.rd.InputStatuses, InputStatus{User: in.User, Hash: in.Hash(), Reason: r})
			}
			continue
		}
		ok = append(ok, *in)
	}
	n.sendInputs(ok)
}

// sendInputs broadcasts inputs in batches that respect the decoder's bounds.
func (n *Node) sendInputs(ins []Input) {
	for len(ins) > 0 {
		k, size := 0, 0
		for k < len(ins) && k < MaxBatchInputs && (k == 0 || size+len(ins[k].Container) <= MaxLedgerInputBytes) {
			size += len(ins[k].Container)
			k++
		}
		n.send(Message{Type: MsgInputBatch, Inputs: ins[:k]})
		ins = ins[k:]
	}
}

// Tick advances the node's clock: idle heartbeats, stage timeouts, retransmissions and retries of
// ledger requests all happen here.
func (n *Node) Tick(now time.Time) {
	n.now = now
	if (n.pending != nil || n.maxSeen > n.seq()) && now.Sub(n.lastReq) >= n.cfg.StageTimeout {
		n.requestLedger(PubKey{})
	}
	if n.active && n.voter {
		switch {
		case now.Sub(n.stageAt) >= n.timeout():
			if n.stage == 0 && n.count(n.round, 0) >= n.q && n.ownResult() == nil {
				n.stageAt = now // waiting for our own execution or sync, not for peers
				break
			}
			if n.awaitingExecutions() {
				n.stageAt = now // waiting for peers' executions: a new round would not make them faster
				break
			}
			if n.stage <= 1 && n.count(n.round, uint8(max(n.stage, 0))) < n.q {
				n.setStatus(StatusUnreliable)
			}
			n.cfg.Logger.Debug("round timeout", "ledger", n.seq(), "round", n.round, "stage", n.stage)
			n.startRound(n.round + 1)
		case now.Sub(n.lastSend) >= n.cfg.StageTimeout/2:
			n.retransmit()
		}
	}
	n.advance()
}

// maxExecWait bounds, in stage timeouts since the last close, how long awaitingExecutions holds a
// round open; past it, a member that claims to execute forever (or crashed while executing) costs
// an ordinary round change.
const maxExecWait = 32

// awaitingExecutions reports whether this node, in stage 1, lacks a quorum of stage-1 proposals
// only because members are still executing the tip: counting as future stage-1 votes the members
// whose stage-0 proposal of this round carried no result for the tip and who sent no stage-1 yet,
// the quorum is there. A member sends its stage-1 proposal as soon as its execution ends, so the
// round completes then; timing it out instead restarts it while the executions still run (a burst
// ledger's execution takes seconds), and the next round meets the same wait with a longer timeout.
func (n *Node) awaitingExecutions() bool {
	if n.stage != int(StageMerge) || n.now.Sub(n.lastClose) >= maxExecWait*n.cfg.StageTimeout {
		return false
	}
	merged := n.props[key(n.round, StageMerge)]
	c := len(merged)
	for signer, vs := range n.props[key(n.round, StagePropose)] {
		if _, ok := merged[signer]; !ok && vs[0].p.Value.Result.Seq != n.tip.Seq {
			c++
		}
	}
	return c >= n.q
}

func (n *Node) timeout() time.Duration {
	return n.cfg.StageTimeout * time.Duration(min(n.round+1, 8))
}

func (n *Node) retransmit() {
	for s := 0; s <= n.stage; s++ {
		if vs, ok := n.props[key(n.round, uint8(s))][n.id]; ok {
			n.send(Message{Type: MsgProposal, Proposal: vs[0].p})
		}
	}
	for _, p := range n.lockProof {
		n.send(Message{Type: MsgProposal, Proposal: p})
	}
	n.lastSend = n.now
}

func key(round uint32, stage uint8) uint64 { return uint64(round)<<8 | uint64(stage) }

func (n *Node) count(round uint32, stage uint8) int { return len(n.props[key(round, stage)]) }

// ownResult is the node's execution result for the tip, or nil while it executes or syncs.
func (n *Node) ownResult() *Result {
	if n.executing || n.syncing != nil || n.done.Seq != n.tip.Seq || len(n.queue) > 0 {
		return nil
	}
	return &n.done
}

func (n *Node) nonce() Hash {
	var h Hash
	if _, err := io.ReadFull(n.cfg.Rand, h[:]); err != nil {
		// A failing entropy source only weakens the group nonce; the round still agrees on it.
		h = sum([]byte("hpnode/nonce-fallback/v1"), n.id[:], n.tip.Prev[:])
	}
	return h
}
