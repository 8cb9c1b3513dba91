package consensus

import (
	"testing"
	"time"
)

func TestDivergentNodeReportsDesyncAndSyncs(t *testing.T) {
	tn := newTestNet(t, 4, 0)
	tn.diverge = map[int]uint64{2: 2}
	tn.runUntil(5, 10*time.Second)
	tn.checkAgreement()
	var sawDesync bool
	var target *SyncTarget
	for _, rd := range tn.events[2] {
		if rd.StatusChanged && rd.Status == StatusDesync {
			sawDesync = true
		}
		if rd.Sync != nil {
			target = rd.Sync
		}
	}
	if !sawDesync || target == nil {
		t.Fatalf("divergent node: desync %v, sync target %v", sawDesync, target)
	}
	// Ledger 3 records the majority's result of executing ledger 2.
	if want := tn.ledgers[0][2].Record.Value.Result; !resultEqual(target.Result, want) {
		t.Fatalf("sync target %+v is not the majority result of ledger 2", target.Result)
	}
	if tn.nodes[2].Status() != StatusSynced {
		t.Fatalf("divergent node status after sync: %s", tn.nodes[2].Status())
	}
	for i := 0; i < 3; i++ {
		if tn.nodes[i].Status() == StatusDesync {
			t.Fatalf("node %d reports desync", i)
		}
	}
}
