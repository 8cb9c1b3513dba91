package consensus

import (
	"testing"
	"time"
)

func TestClusterClosesLedgersWithInputs(t *testing.T) {
	tn := newTestNet(t, 4, 0)
	in := tn.input(1, 1, 10, "hello")
	if err := tn.nodes[0].Step(Message{Type: MsgSubmit, Inputs: []Input{in}}); err != nil {
		t.Fatal(err)
	}
	tn.drain()
	// The input starts a round at once: no waiting for the 1 s heartbeat.
	tn.runUntil(1, 50*time.Millisecond)
	tn.checkAgreement()
	l1 := tn.ledgers[0][0].Record
	if len(l1.Value.Inputs) != 1 || l1.Value.Inputs[0] != in.Ordered() {
		t.Fatalf("ledger 1 inputs = %v", l1.Value.Inputs)
	}
	sts := tn.statuses(0)
	if len(sts) != 1 || !sts[0].Accepted || sts[0].LedgerSeq != 1 || sts[0].LedgerHash != l1.Hash() {
		t.Fatalf("statuses = %+v", sts)
	}
	// The ledger after a non-empty one follows at once (it carries the outputs' hash); after that
	// the cluster idles until the heartbeat.
	tn.runUntil(2, 50*time.Millisecond)
	for i := 0; i < 50; i++ {
		tn.tick(10 * time.Millisecond)
	}
	if got := tn.minTip(); got != 2 {
		t.Fatalf("idle cluster closed ledger %d within 500 ms; want no empty ledger before the heartbeat", got)
	}
	tn.runUntil(3, time.Second)
	tn.checkAgreement()
	for i := range tn.nodes {
		if tn.nodes[i].Status() != StatusSynced {
			t.Errorf("node %d status %s", i, tn.nodes[i].Status())
		}
	}
}

func TestNonUNLNodeFollowsWithoutVoting(t *testing.T) {
	tn := newTestNet(t, 4, 3) // node 3 is an observer: not in the UNL
	tn.runUntil(3, 5*time.Second)
	tn.checkAgreement()
	for _, rd := range tn.events[3] {
		for _, m := range rd.Messages {
			if m.Type == MsgProposal {
				t.Fatalf("observer sent a proposal: %+v", m.Proposal)
			}
		}
	}
	if len(tn.ledgers[3]) < 3 {
		t.Fatalf("observer closed %d ledgers, want 3", len(tn.ledgers[3]))
	}
	if s := tn.nodes[3].Status(); s != StatusSynced {
		t.Fatalf("observer status %s, want synced", s)
	}
}

func TestNodeRestartsFromPersistedLedger(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	tn.runUntil(2, 5*time.Second)
	// Node 2 crashes. The others cannot close ledgers without it (3 of 3 needed) and must resume
	// once it restarts from its persisted tip, history and hard state.
	tn.down[2] = true
	stuck := tn.nodes[0].Tip().Seq
	for i := 0; i < 200; i++ {
		tn.tick(10 * time.Millisecond)
	}
	if got := tn.nodes[0].Tip().Seq; got > stuck+1 {
		t.Fatalf("2 of 3 nodes closed ledger %d after %d: quorum is 3", got, stuck)
	}
	var hard HardState
	for _, rd := range tn.events[2] {
		if rd.HardState != nil {
			hard = *rd.HardState
		}
	}
	ls := tn.ledgers[2]
	tn.nodes[2] = tn.newNodeFrom(2, ls, tn.states[2], hard)
	tn.down[2] = false
	tn.runUntil(stuck+3, 5*time.Second)
	tn.checkAgreement()
}

func TestSmallUNLsCloseLedgers(t *testing.T) {
	for _, n := range []int{1, 2} {
		tn := newTestNet(t, n, 0)
		submit(t, tn, 0, tn.input(1, 1, 10, "solo"))
		tn.runUntil(3, 5*time.Second)
		tn.checkAgreement()
		if sts := tn.statuses(0); len(sts) != 1 || !sts[0].Accepted {
			t.Fatalf("unl=%d: statuses %+v", n, sts)
		}
	}
}
