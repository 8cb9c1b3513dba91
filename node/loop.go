package node

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/p2p"
	"github.com/hpfs/hpnode/userapi"
)

// loop is the only goroutine that touches the consensus state machine: it feeds it messages and
// ticks and carries out each Ready in the order consensus requires.
func (n *Node) loop(ctx context.Context, cons *consensus.Node, execQ chan<- consensus.Execution, syncQ chan consensus.SyncTarget) error {
	ticker := time.NewTicker(tickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-ticker.C:
			cons.Tick(now)
			if n.farBehind(cons, now) {
				n.logger.Info("far behind the cluster; catching up", "lcl", cons.Tip().Seq,
					"peers_seq", n.peerSeq.Load(), "executed", n.view.executedSeq())
				return errFarBehind
			}
		case m := <-n.local:
			if err := cons.Step(m); err != nil {
				n.logger.Warn("consensus refused a local report", "type", m.Type, "err", err)
			}
			if m.Type == consensus.MsgExecResult {
				n.releaseLateOutputs(m.Result.Seq)
			}
		case m := <-n.steps:
			n.step(cons, m)
			// Drain what else is queued before acting, so a burst of inputs or proposals
			// becomes one Ready.
			for drained := 0; drained < 256; drained++ {
				select {
				case m := <-n.steps:
					n.step(cons, m)
					continue
				default:
				}
				break
			}
		}
		for {
			rd, ok := cons.Ready()
			if !ok {
				break
			}
			if err := n.handleReady(ctx, rd, execQ, syncQ); err != nil {
				return err
			}
			cons.Advance(rd)
		}
	}
}

func (n *Node) step(cons *consensus.Node, m consensus.Message) {
	if err := cons.Step(m); err != nil {
		n.logger.Debug("consensus refused a message", "type", m.Type, "from", hex8(m.From[:]), "err", err)
	}
}

// handleReady carries out one Ready: persist, send, start work, tell users.
func (n *Node) handleReady(ctx context.Context, rd consensus.Ready, execQ chan<- consensus.Execution, syncQ chan consensus.SyncTarget) error {
	if err := n.db.persist(rd.HardState, rd.Ledgers); err != nil {
		// Sending after a failed persist could make this node vote against itself after a
		// restart: stop instead.
		return fmt.Errorf("persist consensus state: %w", err)
	}
	for _, m := range coalesceInputBatches(rd.Messages) {
		n.send(&m)
	}
	for _, ex := range rd.Execute {
		select {
		case execQ <- ex:
		case <-ctx.Done():
			return nil
		}
	}
	if rd.Sync != nil {
		// Only the newest target matters: replace one not yet picked up.
		select {
		case <-syncQ:
		default:
		}
		syncQ <- *rd.Sync
	}
	for i := range rd.Ledgers {
		n.ledgerClosed(&rd.Ledgers[i])
	}
	for _, st := range rd.InputStatuses {
		if !st.Accepted {
			// An input that passed admission and then could not get into a ledger: rare enough
			// (expiry, a later nonce of its user ordered first) for operators to want each one.
			n.logger.Info("input rejected", "reason", st.Reason, "user", fmt.Sprintf("%x", st.User[:4]), "input", fmt.Sprintf("%x", st.Hash[:4]))
		}
		ev := &userapi.InputStatus{
			User:      ed25519.PublicKey(append([]byte(nil), st.User[:]...)),
			InputHash: userapi.Hash(st.Hash),
			Accepted:  st.Accepted,
			Reason:    string(st.Reason),
			Ledger:    userapi.LedgerID{Seq: st.LedgerSeq, Hash: userapi.Hash(st.LedgerHash)},
		}
		n.events.publish(ev)
	}
	if rd.StatusChanged {
		n.view.setStatus(rd.Status)
		n.metrics.voteStatus.Set(float64(rd.Status))
		n.logger.Info("vote status", "status", rd.Status.String())
		n.kickStatus()
		n.events.publish(&userapi.VoteStatusChanged{VoteStatus: rd.Status.String()})
		if n.hooks.OnVoteStatus != nil {
			n.hooks.OnVoteStatus(rd.Status)
		}
	}
	if rd.ConfigChanged != nil {
		n.unlChanged(*rd.ConfigChanged)
	}
	return nil
}

// maxBatchInputs bounds the inputs relayed in one message (about 600 bytes each at most with
// typical containers, so a batch stays well under the mesh's message size limit).
const maxBatchInputs = 1024

// coalesceInputBatches merges the broadcast input batches of one Ready into as few messages as
// possible: consensus relays each submitted input as it arrives, and a burst of thousands of
// single-input messages would overflow the mesh's per-peer send queues and be dropped.
func coalesceInputBatches(msgs []consensus.Message) []consensus.Message {
	out := make([]consensus.Message, 0, len(msgs))
	var batch *consensus.Message
	for _, m := range msgs {
		if m.Type != consensus.MsgInputBatch || m.To != (consensus.PubKey{}) {
			out = append(out, m)
			continue
		}
		if batch == nil || len(batch.Inputs)+len(m.Inputs) > maxBatchInputs {
			out = append(out, consensus.Message{Type: consensus.MsgInputBatch})
			batch = &out[len(out)-1]
		}
		batch.Inputs = append(batch.Inputs, m.Inputs...)
	}
	return out
}

// send hands one consensus message to the mesh: proposals under the UNL-filtered kind, input
// batches to every peer, ledger traffic on its own kind.
func (n *Node) send(m *consensus.Message) {
	payload, err := m.MarshalBinary()
	if err != nil {
		n.logger.Error("encode consensus message", "type", m.Type, "err", err)
		return
	}
	kind, scope := kindLedger, p2p.ToAll
	switch m.Type {
	case consensus.MsgProposal:
		kind = p2p.KindProposal
		if n.config().Contract.Consensus.Mode != "public" {
			scope = p2p.ToUNL
		}
	case consensus.MsgInputBatch:
		kind = p2p.KindUserInputs
	}
	if m.To != (consensus.PubKey{}) {
		if err := n.mesh.Send(p2p.PeerID(m.To), kind, payload); err != nil {
			n.logger.Debug("send", "type", m.Type, "to", hex8(m.To[:]), "err", err)
		}
		return
	}
	if _, err := n.mesh.Broadcast(kind, payload, scope); err != nil {
		n.logger.Debug("broadcast", "type", m.Type, "err", err)
	}
}

// ledgerClosed logs a closed ledger, tells users, and releases the outputs it certifies.
func (n *Node) ledgerClosed(d *consensus.Decided) {
	rec := &d.Record
	h := rec.Hash()
	n.view.setLedger(*rec, h)
	n.metrics.ledgerSeq.Set(float64(rec.Seq))
	n.metrics.inputs.Add(float64(len(d.Inputs)))
	res := rec.Value.Result
	n.logger.Info(fmt.Sprintf("Ledger created (lcl:%d-%s state:%s patch:%s)", rec.Seq, hex8(h[:]),
		hex8(res.StateHash[:]), hex8(res.PatchHash[:])), "inputs", len(d.Inputs), "users", len(rec.Value.Users))
	n.events.publish(&userapi.LedgerCreated{Ledger: userLedger(rec)})
	n.releaseOutputs(rec, h)
	n.kickStatus()
	if n.hooks.OnLedger != nil {
		n.hooks.OnLedger(*d)
	}
}

// userLedger is a ledger as users see it. Ledger seq records the result of executing seq-1
// (HotPocket's order too: state and output hashes trail the inputs by one ledger).
func userLedger(rec *consensus.Record) userapi.Ledger {
	h := rec.Hash()
	res := rec.Value.Result
	return userapi.Ledger{
		Seq:        rec.Seq,
		Timestamp:  rec.Value.Time,
		Hash:       userapi.Hash(h),
		PrevHash:   userapi.Hash(rec.Prev),
		StateHash:  userapi.Hash(res.StateHash),
		ConfigHash: userapi.Hash(res.PatchHash),
		UserHash:   userapi.Hash(consensus.UserHash(rec.Value.Users)),
		InputHash:  userapi.Hash(consensus.InputListHash(rec.Value.Inputs)),
		OutputHash: userapi.Hash(res.OutputHash),
	}
}

// pendingOutputs holds each execution's outputs until the ledger that certifies them closes.
type pendingOutputs struct {
	mu  sync.Mutex
	out map[uint64]execOutcome
}

func (p *pendingOutputs) put(seq uint64, o execOutcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		p.out = map[uint64]execOutcome{}
	}
	p.out[seq] = o
}

// take removes and returns the outcome of seq, forgetting every older one.
func (p *pendingOutputs) take(seq uint64) (execOutcome, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.out[seq]
	for s := range p.out {
		if s <= seq {
			delete(p.out, s)
		}
	}
	return o, ok
}

// maxLateCerts bounds the certifying ledgers remembered for executions still running.
const maxLateCerts = 8

// releaseOutputs sends users the outputs of the execution that rec certifies, with the UNL's
// signatures from rec's certificate, if this node's outputs are the agreed ones. A voting node has
// always executed before the certifying ledger closes (it votes its own result); an observer may
// still be executing, so the certificate is kept until its result arrives (releaseLateOutputs).
func (n *Node) releaseOutputs(rec *consensus.Record, h consensus.Hash) {
	res := rec.Value.Result
	if res.OutputHash == (consensus.Hash{}) {
		return
	}
	out, ok := n.outputs.take(res.Seq)
	n.logger.Debug("release outputs", "executed", res.Seq, "have", ok, "users", len(out.outputs))
	if !ok {
		if res.Seq > n.view.snapshot().result.Seq {
			if n.lateCerts == nil {
				n.lateCerts = map[uint64]consensus.Record{}
			}
			n.lateCerts[res.Seq] = *rec
			for s := range n.lateCerts {
				if s+maxLateCerts < res.Seq {
					delete(n.lateCerts, s)
				}
			}
		}
		return
	}
	if len(out.outputs) == 0 {
		return
	}
	if consensus.Hash(out.tree.Root()) != res.OutputHash {
		n.logger.Warn("own outputs differ from the agreed output hash; not sent", "ledger", res.Seq)
		return
	}
	if err := n.db.chain.PutOutputs(rec.Seq, out.outputs); err != nil {
		n.logger.Error("store outputs", "ledger", rec.Seq, "err", err)
	}
	ro := &userapi.RoundOutputs{
		Ledger: userapi.LedgerID{Seq: rec.Seq, Hash: userapi.Hash(h)},
		Tree:   out.tree,
		Users:  out.outputs,
	}
	for _, v := range rec.Cert {
		if len(v.OutputSig) == 0 {
			continue
		}
		ro.Sigs = append(ro.Sigs, userapi.OutputSig{Signer: ed25519.PublicKey(append([]byte(nil), v.Signer[:]...)), Sig: v.OutputSig})
	}
	n.events.publish(ro)
}

// releaseLateOutputs releases the outputs of execution seq if its certifying ledger closed first.
// That ledger is in lateCerts while it is one of the last maxLateCerts; a node further behind in
// executing (a member the others outvote while it catches up, an observer) finds it in the chain:
// the ledger after seq records seq's result. Without that, users of a node that fell behind lost
// the outputs of their accepted inputs. Outputs already released are not sent twice: release
// takes them from the pending set.
func (n *Node) releaseLateOutputs(seq uint64) {
	rec, ok := n.lateCerts[seq]
	if ok {
		delete(n.lateCerts, seq)
	} else if rec, ok = n.certifyingLedger(seq); !ok {
		return
	}
	n.releaseOutputs(&rec, rec.Hash())
}

// certifyingLedger returns the stored ledger that records the result of executing seq, if the
// chain holds it.
func (n *Node) certifyingLedger(seq uint64) (consensus.Record, bool) {
	if n.db.chain.Tip().Seq <= seq {
		return consensus.Record{}, false
	}
	rec, err := n.db.chain.Record(seq + 1)
	if err != nil || rec.Value.Result.Seq != seq {
		return consensus.Record{}, false
	}
	return rec, true
}

// unlChanged applies an agreed UNL change: the mesh's filter, hp.cfg, users, hooks.
func (n *Node) unlChanged(c consensus.UNLConfig) {
	n.view.setUNL(c.UNL)
	keys := n.view.unlKeys()
	n.mesh.SetUNL(keys)
	n.logger.Info("UNL changed", "size", len(keys), "threshold", c.Threshold)
	n.events.publish(&userapi.UNLChanged{UNL: keys})
	if p, ok := n.latestPatch(); ok {
		n.cfgMu.Lock()
		n.cfg.Contract.ApplyPatch(p)
		cfg := n.cfg
		n.cfgMu.Unlock()
		if err := config.Save(n.layout.HPCfg(), cfg); err != nil {
			n.logger.Error("write hp.cfg after UNL change", "err", err)
		}
	}
	if n.hooks.OnUNLChange != nil {
		n.hooks.OnUNLChange(keys)
	}
}
