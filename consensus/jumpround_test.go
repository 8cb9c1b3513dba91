package consensus

import (
	"testing"
	"time"
)

// TestMembersWithDriftedRoundsRealignAtLowThreshold: with 60% of 3 (q = 2) and one member down,
// the two live members are exactly a quorum. One of them starts late, many rounds behind the
// other; both time out at the same capped period, so without a jump they would stay that many
// rounds apart forever. The late one must jump to the other's round (one witness is all a quorum
// of two can offer) and both must close ledgers again.
func TestMembersWithDriftedRoundsRealignAtLowThreshold(t *testing.T) {
	tn := &testNet{t: t, signers: testKeys(3), now: time.UnixMilli(2_000_000), down: map[int]bool{},
		slow: map[int]bool{}, held: map[int][]Execution{}}
	g := testGenesis(unlOf(tn.signers, 60))
	if q := CloseQuorum(60, 3); q != 2 {
		t.Fatalf("quorum of 60%% of 3 = %d, want 2", q)
	}
	tn.ledgers = make([][]Decided, 3)
	tn.events = make([][]Ready, 3)
	for i := 0; i < 3; i++ {
		tn.states = append(tn.states, g.Value.Result)
		tn.nodes = append(tn.nodes, tn.newNode(i, g, g.Value.Result, nil))
	}
	tn.down[2] = true
	tn.down[1] = true
	for i := 0; i < 600; i++ { // node 0 alone for 6 s: it times out round after round
		tn.tick(10 * time.Millisecond)
	}
	if _, r := tn.nodes[0].Round(); r < 8 {
		t.Fatalf("node 0 alone reached round %d only; the test needs it far ahead", r)
	}
	tn.down[1] = false
	tn.runUntil(2, 30*time.Second)
	tn.checkAgreement()
}
