package consensus

import (
	"testing"
	"time"
)

// closedRounds returns the round each ledger node i closed was decided in, by sequence.
func closedRounds(tn *testNet, i int) map[uint64]uint32 {
	out := map[uint64]uint32{}
	for _, d := range tn.ledgers[i] {
		out[d.Record.Seq] = d.Record.Round
	}
	return out
}

// TestSlowExecutionDoesNotChangeRounds runs a member whose contract takes ten stage timeouts to
// execute a ledger with inputs. The others, in stage 1, lack its stage-1 proposal only because it
// executes (its stage-0 proposal carries no result for the tip): they must keep the round open
// rather than restart it, and the next ledger must close in its first round once the execution
// ends.
func TestSlowExecutionDoesNotChangeRounds(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	tn.slow[2] = true
	submit(t, tn, 0, tn.input(0, 1, 100, "slow"))
	tn.runUntil(1, time.Second)
	submit(t, tn, 0, tn.input(0, 2, 100, "next"))
	for i := 0; i < 100; i++ {
		tn.tick(10 * time.Millisecond) // 1 s: ten stage timeouts
	}
	for i, nd := range tn.nodes {
		if seq, r := nd.Round(); seq != 2 || r != 0 {
			t.Fatalf("node %d at ledger %d round %d while a member executes, want ledger 2 round 0", i, seq, r)
		}
	}
	tn.release(2)
	tn.runUntil(2, time.Second)
	for i := range tn.nodes {
		if r := closedRounds(tn, i)[2]; r != 0 {
			t.Errorf("node %d closed ledger 2 in round %d, want 0", i, r)
		}
	}
	tn.checkAgreement()
}

// TestSlowExecutionWaitIsBounded checks that the wait for members' executions ends: a member
// that never finishes executing costs a round change after maxExecWait stage timeouts, so the
// others keep trying (here they cannot close without it: 3 of 3 is the quorum).
func TestSlowExecutionWaitIsBounded(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	tn.slow[2] = true
	submit(t, tn, 0, tn.input(0, 1, 100, "slow"))
	tn.runUntil(1, time.Second)
	wait := maxExecWait * tn.nodes[0].cfg.StageTimeout
	for d := time.Duration(0); d < wait+2*tn.nodes[0].cfg.StageTimeout; d += 10 * time.Millisecond {
		tn.tick(10 * time.Millisecond)
	}
	if _, r := tn.nodes[0].Round(); r == 0 {
		t.Fatalf("node 0 still in round 0 after %v of a member that never executes", wait)
	}
}

// TestInputHeldByOneNodeWaitsForQuorum submits an input to node 0 while its relays to the others
// are lost. Only node 0 proposes it in stage 0, so no stage-1 value may order it (HotPocket's
// one-vote rule would, whenever node 0 leads a round, and every other member would then have to
// fetch the closed ledger to get the input). Once relays pass again, the resend that follows a
// ledger missed twice delivers it, and it is accepted.
func TestInputHeldByOneNodeWaitsForQuorum(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	blocked := true
	requests := 0
	tn.filter = func(from, to int, m *Message) *Message {
		if m.Type == MsgLedgerRequest {
			requests++
		}
		if blocked && from == 0 && m.Type == MsgInputBatch {
			return nil
		}
		return m
	}
	in := tn.input(0, 1, 1<<40, "only node 0 has it")
	submit(t, tn, 0, in)
	tn.runUntil(6, 10*time.Second) // every member leads at least one round
	for i := range tn.nodes {
		for _, d := range tn.ledgers[i] {
			if len(d.Inputs) > 0 {
				t.Fatalf("node %d: ledger %d ordered an input only node 0 holds", i, d.Record.Seq)
			}
		}
	}
	if requests != 0 {
		t.Fatalf("%d ledger requests while every member held every ordered input", requests)
	}
	blocked = false
	for i := 0; i < 1000; i++ {
		if st, ok := reasonFor(tn, 0, in); ok {
			if !st.Accepted {
				t.Fatalf("input rejected: %+v", st)
			}
			tn.checkAgreement()
			return
		}
		tn.tick(10 * time.Millisecond)
	}
	t.Fatalf("input not accepted after its relays passed again: tips %v", tn.tips())
}

// TestRetryResendsOnlyInputsAPeerLacks retries a round (stage-1 proposals are lost) while node 2
// lacks one of node 0's inputs: node 0 must send that input again, and not the one every peer's
// stage-0 proposal already held.
func TestRetryResendsOnlyInputsAPeerLacks(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	everywhere := tn.input(0, 1, 1<<40, "everywhere")
	lost := tn.input(1, 1, 1<<40, "lost on the way to node 2")
	var resent []Hash
	retrying := false
	tn.filter = func(from, to int, m *Message) *Message {
		switch {
		case m.Type == MsgProposal && m.Proposal.Stage == StageMerge:
			return nil
		case m.Type == MsgInputBatch && from == 0 && retrying:
			for _, in := range m.Inputs {
				resent = append(resent, in.Hash())
			}
		case m.Type == MsgInputBatch && from == 0 && to == 2:
			var keep []Input
			for _, in := range m.Inputs {
				if in.Hash() != lost.Hash() {
					keep = append(keep, in)
				}
			}
			if len(keep) == 0 {
				return nil
			}
			return &Message{Type: MsgInputBatch, Inputs: keep}
		}
		return m
	}
	submit(t, tn, 0, everywhere)
	submit(t, tn, 0, lost)
	tn.tick(10 * time.Millisecond)
	retrying = true
	for i := 0; i < 20; i++ {
		tn.tick(10 * time.Millisecond)
	}
	if _, r := tn.nodes[0].Round(); r == 0 {
		t.Fatal("round 0 was not retried")
	}
	got := map[Hash]bool{}
	for _, h := range resent {
		got[h] = true
	}
	if !got[lost.Hash()] || got[everywhere.Hash()] {
		t.Fatalf("resent on retry: lacked input %v, held-everywhere input %v; want true, false", got[lost.Hash()], got[everywhere.Hash()])
	}
}
