package consensus

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestThresholdTable pins the quorum arithmetic for UNL sizes 1..20 at the thresholds operators use
// (testdata/thresholds.txt; -update rewrites it). Columns: stage-1/2/3 input quorums (HotPocket's
// float formula), the close quorum q, and the fault tolerances that follow from q.
func TestThresholdTable(t *testing.T) {
	var b bytes.Buffer
	fmt.Fprintln(&b, "# threshold unl -> stage1 stage2 stage3 close safety_faults liveness_faults")
	for _, th := range []uint8{51, 67, 80, 100} {
		for n := 1; n <= 20; n++ {
			fmt.Fprintf(&b, "%d %d -> %d %d %d %d %d %d\n", th, n, StageQuorum(1, th, n), StageQuorum(2, th, n), StageQuorum(3, th, n),
				CloseQuorum(th, n), SafetyTolerance(th, n), LivenessTolerance(th, n))
		}
	}
	const path = "testdata/thresholds.txt"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Fatalf("threshold table differs from %s (run with -update after checking the change)", path)
	}
}

// TestThresholdsMatchHotPocket checks the values reference §1.4 lists for HotPocket, including a
// case where its float arithmetic differs from exact arithmetic.
func TestThresholdsMatchHotPocket(t *testing.T) {
	cases := []struct {
		th            uint8
		unl           int
		s1, s2, s3, c int
	}{
		{80, 3, 2, 2, 3, 3},
		{80, 5, 3, 4, 4, 4},
		{80, 10, 5, 7, 8, 8},
		{80, 20, 10, 13, 16, 16},
	}
	for _, c := range cases {
		got := [4]int{StageQuorum(1, c.th, c.unl), StageQuorum(2, c.th, c.unl), StageQuorum(3, c.th, c.unl), CloseQuorum(c.th, c.unl)}
		if got != [4]int{c.s1, c.s2, c.s3, c.c} {
			t.Errorf("threshold %d unl %d: %v, want %v", c.th, c.unl, got, [4]int{c.s1, c.s2, c.s3, c.c})
		}
	}
	if got := StageQuorum(3, 52, 25); got != 14 {
		t.Errorf("StageQuorum(3, 52, 25) = %d, want HotPocket's 14 (exact arithmetic gives 13)", got)
	}
	for th := uint8(51); th <= 100; th++ {
		for n := 1; n <= 20; n++ {
			if q := CloseQuorum(th, n); 2*q <= n {
				t.Errorf("threshold %d unl %d: quorum %d does not intersect", th, n, q)
			}
		}
	}
}

// TestVoteCountingAtEveryUNLSize feeds an observer exactly q-1 and then q signed votes for one
// value at every UNL size 1..20: stage-2 votes must lock only at q, stage-3 votes close the ledger
// only at q, and votes for a different value never add up with them.
func TestVoteCountingAtEveryUNLSize(t *testing.T) {
	for n := 1; n <= 20; n++ {
		t.Run(fmt.Sprintf("unl=%d", n), func(t *testing.T) {
			signers := testKeys(n + 1)
			members, observer := signers[:n], signers[n]
			g := testGenesis(unlOf(members, 80))
			nd, err := NewNode(Config{ContractID: testCID, Signer: observer, Rand: &seededReader{nil}, Tip: g, Result: g.Value.Result}, time.UnixMilli(int64(g.Value.Time)))
			if err != nil {
				t.Fatal(err)
			}
			q := CloseQuorum(80, n)
			v := Value{Time: g.Value.Time + 5, Nonces: []Hash{{7}}, Result: g.Value.Result}
			other := v.Clone()
			other.Time++
			vote := func(stage uint8, s *Ed25519Signer, val Value) {
				p := &Proposal{ContractID: testCID, Stage: stage, Seq: 1, Prev: g.Hash(), Value: val}
				p.Sign(s)
				if err := nd.Step(Message{Type: MsgProposal, Proposal: p}); err != nil {
					t.Fatal(err)
				}
			}
			// When the quorum is below the UNL size, the last member votes for another value: its
			// vote must never complete the value's quorum.
			for _, stage := range []uint8{StagePrevote, StagePrecommit} {
				if q < n {
					vote(stage, members[n-1], other)
				}
				for i := 0; i < q-1; i++ {
					vote(stage, members[i], v)
				}
				if nd.Tip().Seq != 0 || (stage == StagePrevote && nd.hard.Locked) {
					t.Fatalf("stage %d: acted on %d of %d votes", stage, q-1, q)
				}
				vote(stage, members[q-1], v)
				if stage == StagePrevote && (!nd.hard.Locked || nd.hard.Lock.Hash() != v.Hash()) {
					t.Fatalf("not locked on the value after %d prevotes", q)
				}
			}
			tip := nd.Tip()
			if tip.Seq != 1 || tip.Value.Hash() != v.Hash() {
				t.Fatalf("tip %d after %d precommits", tip.Seq, q)
			}
			if err := VerifyRecord(testCID, &g, &tip); err != nil {
				t.Fatalf("closed record does not verify: %v", err)
			}
		})
	}
}
