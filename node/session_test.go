package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
)

// TestFarBehindRule: a session ends to catch up exactly when UNL members propose at least
// sync.catchup_ledgers beyond the tip, or the node's own executions trail its tip by that much;
// never with the rule off, while a state sync runs, or during the backoff after a catch-up that
// moved nothing.
func TestFarBehindRule(t *testing.T) {
	priv := testKey(9)
	tip := consensus.Genesis(0, consensus.Result{Config: consensus.UNLConfig{
		UNL: []consensus.PubKey{consensus.PubKey(priv.Public().(ed25519.PublicKey))}, Threshold: 80}})
	tip.Seq = 100 // a tip to measure from; consensus only reads it here
	cons, err := consensus.NewNode(consensus.Config{ContractID: "c", Signer: consensus.NewEd25519Signer(priv),
		Rand: rand.Reader, Tip: tip, Result: consensus.Result{Seq: 100, Config: tip.Value.Result.Config}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name     string
		gap      uint64
		peerSeq  uint64
		executed uint64
		syncing  bool
		backoff  bool
		want     bool
	}{
		{"in step", 32, 101, 100, false, false, false},
		{"proposals 31 ahead", 32, 131, 100, false, false, false},
		{"proposals 32 ahead", 32, 132, 100, false, false, true},
		{"executions 31 behind", 32, 101, 69, false, false, false},
		{"executions 32 behind", 32, 101, 68, false, false, true},
		{"rule off", 0, 1000, 0, false, false, false},
		{"state sync running", 32, 1000, 0, true, false, false},
		{"backoff after a useless catch-up", 32, 1000, 0, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{}
			n.cfg = config.Default()
			n.cfg.Sync.CatchUpLedgers = tc.gap
			n.peerSeq.Store(tc.peerSeq)
			n.view.setResult(consensus.Result{Seq: tc.executed})
			n.syncing.Store(tc.syncing)
			if tc.backoff {
				n.catchUpAfter = now.Add(time.Second)
			}
			if got := n.farBehind(cons, now); got != tc.want {
				t.Fatalf("farBehind = %v, want %v", got, tc.want)
			}
		})
	}
}
