package consensus

import (
	"testing"
	"time"
)

// TestUNLChangeTakesEffectAtAgreedLedger: the contract adds node 3 to the UNL while executing
// ledger 2. Ledger 3 records the new configuration (it records ledger 2's result), every node
// reports the change at ledger 3, and ledger 4 is the first closed under the 4-member UNL, with
// node 3's vote in its certificate.
func TestUNLChangeTakesEffectAtAgreedLedger(t *testing.T) {
	tn := newTestNet(t, 4, 3)
	all := unlOf(tn.signers, 80)
	tn.nextConfig, tn.configAt = &all, 2
	tn.runUntil(4, 10*time.Second)
	tn.checkAgreement()
	for i := range tn.nodes {
		var at []uint64
		for _, rd := range tn.events[i] {
			if rd.ConfigChanged != nil {
				if !rd.ConfigChanged.Equal(all) {
					t.Fatalf("node %d: changed to %v", i, rd.ConfigChanged)
				}
				at = append(at, rd.Ledgers[len(rd.Ledgers)-1].Record.Seq)
			}
		}
		if len(at) != 1 || at[0] != 3 {
			t.Fatalf("node %d reported UNL changes at ledgers %v, want [3]", i, at)
		}
	}
	l3, l4 := tn.ledgers[0][2].Record, tn.ledgers[0][3].Record
	if len(l3.Value.Result.Config.UNL) != 4 || len(tn.ledgers[0][1].Record.Value.Result.Config.UNL) != 3 {
		t.Fatal("configuration not recorded at ledger 3")
	}
	if len(l4.Cert) < CloseQuorum(80, 4) {
		t.Fatalf("ledger 4 certificate has %d votes, want a 4-member quorum", len(l4.Cert))
	}
	voted := false
	for _, v := range l4.Cert {
		voted = voted || v.Signer == tn.signers[3].PublicKey()
	}
	if !voted {
		t.Fatal("new member's vote is not in ledger 4's certificate")
	}
	for _, c := range l3.Cert {
		if c.Signer == tn.signers[3].PublicKey() {
			t.Fatal("new member voted on ledger 3, before its epoch")
		}
	}
	if err := VerifyRecord(testCID, &l3, &l4); err != nil {
		t.Fatalf("ledger 4 does not verify under the new UNL: %v", err)
	}
}
