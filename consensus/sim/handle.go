package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/hpfs/hpnode/consensus"
	"github.com/zeebo/blake3"
)

// Event handling: what each kind of event does to a node, and how a node's Ready is carried out.

func (w *world) handle(e *event) {
	var n *simNode
	if e.kind == evSubmit {
		// Each user stays connected to one node, as a real client does.
		u := w.rng.IntN(len(w.users))
		n = w.nodes[u%len(w.nodes)]
		if n.up {
			in := w.newInput(u)
			w.pending[in.Hash()] = n.idx
			w.sentAt[in.Hash()] = w.now
			_ = n.node.Step(consensus.Message{Type: consensus.MsgSubmit, Inputs: []consensus.Input{in}})
			w.process(n)
		}
		return
	}
	if e.kind == evStream {
		w.stream(e.node)
		return
	}
	if e.kind != evPartition && e.kind != evHeal {
		n = w.nodes[e.node]
	}
	switch e.kind {
	case evTick:
		if !n.up || e.epoch != n.epoch {
			return
		}
		n.node.Tick(w.clock())
		w.at(tickEvery, &event{kind: evTick, node: n.idx, epoch: n.epoch})
	case evDeliver:
		if !n.up {
			return
		}
		m := *e.msg
		m.From = w.nodes[int(e.epoch)].key // epoch carries the sender index for deliveries
		w.rep.Deliveries++
		err := n.node.Step(m)
		if err != nil && !n.expectedStepError(err) {
			w.err = fmt.Errorf("sim: node %d step %s: %w", n.idx, m.Type, err)
			return
		}
	case evExecDone:
		if !n.up || e.epoch != n.epoch {
			return
		}
		n.last = *e.res
		if err := n.node.Step(consensus.Message{Type: consensus.MsgExecResult, Result: e.res}); err != nil {
			w.err = fmt.Errorf("sim: node %d exec result: %w", n.idx, err)
			return
		}
	case evSyncDone:
		if !n.up || e.epoch != n.epoch {
			return
		}
		n.last = *e.res
		if err := n.node.Step(consensus.Message{Type: consensus.MsgSyncDone, Result: e.res}); err != nil {
			w.err = fmt.Errorf("sim: node %d sync done: %w", n.idx, err)
			return
		}
	case evCrash:
		for h, i := range w.pending {
			if i == n.idx {
				delete(w.pending, h) // the pool is memory only: a crashed node's users resubmit
			}
		}
		n.up = false
		n.epoch++
		n.node = nil
		return
	case evRestart:
		n.epoch++
		w.start(n)
		w.at(tickEvery, &event{kind: evTick, node: n.idx, epoch: n.epoch})
		return
	case evPartition:
		w.group = make([]int, len(w.nodes))
		for i := range w.group {
			w.group[i] = w.rng.IntN(2)
		}
		return
	case evHeal:
		w.group = nil
		return
	}
	if n != nil && n.up {
		w.process(n)
	}
}

// expectedStepError reports errors an honest node legitimately returns in a faulty network: an
// equivocator's second proposal, or a proposal signed on a ledger this node has not reached yet.
func (n *simNode) expectedStepError(err error) bool {
	return errors.Is(err, consensus.ErrEquivocation) || errors.Is(err, consensus.ErrBrokenChain)
}

// stream submits one millisecond's share of the input stream to node i, from user 0 (whose node
// is node 0) in nonce order, then drains the node's Ready once.
func (w *world) stream(i int) {
	n := w.nodes[i]
	if !n.up {
		return
	}
	k := w.o.StreamRate / 1000
	for j := 0; j < k; j++ {
		in := w.newInput(0)
		w.pending[in.Hash()] = n.idx
		w.sentAt[in.Hash()] = w.now
		_ = n.node.Step(consensus.Message{Type: consensus.MsgSubmit, Inputs: []consensus.Input{in}})
	}
	w.process(n)
}

func (w *world) newInput(ui int) consensus.Input {
	u := w.users[ui]
	w.nonces[u]++
	in := consensus.Input{User: u, Nonce: w.nonces[u], MaxLedgerSeq: 1 << 40, Container: []byte(fmt.Sprintf("input %d of %s", w.nonces[u], u))}
	copy(in.Sig[:], fakeSig(u, in.Container))
	return in
}

// process drains a node's Ready: persist, check safety, send, execute, sync.
func (w *world) process(n *simNode) {
	for w.err == nil {
		rd, ok := n.node.Ready()
		if !ok {
			return
		}
		if rd.HardState != nil {
			n.hard = *rd.HardState
		}
		for _, d := range rd.Ledgers {
			w.persist(n, d)
			if !n.byz {
				w.rep.MaxRound = max(w.rep.MaxRound, d.Record.Round)
			}
		}
		for _, m := range rd.Messages {
			w.sendFrom(n, m)
		}
		for i := range rd.Execute {
			x := rd.Execute[i]
			res := w.execute(n, &x)
			d := time.Millisecond + time.Duration(w.rng.Int64N(int64(10*time.Millisecond))) + time.Duration(len(x.Inputs))*w.o.ExecPerInput
			w.at(d, &event{kind: evExecDone, node: n.idx, epoch: n.epoch, res: &res})
		}
		if rd.Sync != nil {
			w.rep.SyncTargets++
			res := rd.Sync.Result
			w.at(20*time.Millisecond, &event{kind: evSyncDone, node: n.idx, epoch: n.epoch, res: &res})
		}
		if rd.StatusChanged && rd.Status == consensus.StatusDesync && n.nondet != 0 {
			w.rep.DesyncReported = true
		}
		for _, st := range rd.InputStatuses {
			if st.Accepted {
				w.rep.Accepted++
				w.rep.LastAccept = w.now
				if at, ok := w.sentAt[st.Hash]; ok {
					w.rep.AcceptLatency = append(w.rep.AcceptLatency, w.now-at)
				}
			} else {
				w.rep.Rejected++
			}
			delete(w.pending, st.Hash)
		}
		n.node.Advance(rd)
	}
}

// execute models the contract: the state hash chains the ledger hashes, except once on a
// non-deterministic node.
func (w *world) execute(n *simNode, x *consensus.Execution) consensus.Result {
	h := x.Record.Hash()
	st := blake3.Sum256(append(append([]byte{}, n.last.StateHash[:]...), h[:]...))
	if n.nondet != 0 && x.Record.Seq == n.nondet {
		st = blake3.Sum256(append(st[:], "noise"...))
	}
	res := consensus.Result{Seq: x.Record.Seq, StateHash: st, PatchHash: n.last.PatchHash, Config: x.Record.Value.Result.Config.Clone()}
	if len(x.Inputs) > 0 {
		res.OutputHash = blake3.Sum256(append(st[:], "outputs"...))
	}
	return res
}

func (w *world) persist(n *simNode, d consensus.Decided) {
	prev := w.genesis
	if len(n.chain) > 0 {
		prev = n.chain[len(n.chain)-1].Record
	}
	if d.Record.Seq != prev.Seq+1 {
		w.err = fmt.Errorf("%w: node %d persisted ledger %d after %d", ErrSafety, n.idx, d.Record.Seq, prev.Seq)
		return
	}
	if err := consensus.VerifyRecordWith(w.verify, contractID, &prev, &d.Record); err != nil {
		w.err = fmt.Errorf("%w: node %d closed ledger %d without valid quorum: %v", ErrSafety, n.idx, d.Record.Seq, err)
		return
	}
	h := d.Record.Hash()
	if old, ok := w.closed[d.Record.Seq]; ok && old != h {
		w.err = fmt.Errorf("%w: node %d closed ledger %d as %s, another node as %s", ErrSafety, n.idx, d.Record.Seq, h, old)
		return
	}
	w.closed[d.Record.Seq] = h
	n.chain = append(n.chain, d)
}
