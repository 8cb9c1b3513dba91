package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hpfs/hpnode/nodedir"
)

// TestNodeBehindPrunedLedgersReanchors: with ledger.keep_ledgers 32, a node stopped while the others
// close 80 ledgers comes back to a cluster that no longer keeps the ledger after its tip. It cannot
// extend its chain, so it re-anchors on the peers' last two ledgers (checked by the certificate of a
// key of its own UNL), syncs the state to the new tip's, and closes ledgers with the others again.
func TestNodeBehindPrunedLedgersReanchors(t *testing.T) {
	bundle := binBundle(t, "echo-go", 60)
	override := `{"contract":{"bin_path":"echo-go","bin_args":"","consensus":{"threshold":60}},"ledger":{"keep_ledgers":32}}`
	if err := os.WriteFile(filepath.Join(bundle, nodedir.OverrideFile), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, bundle, 19681, 24681, 100)
	c.waitAllAt(2, 60*time.Second, 1, 2, 3)

	c.missLedgers(3, 80)
	c.waitLog(3, 90*time.Second, `msg="peers no longer keep the ledgers after this node's tip; chain re-anchored at their tip"`)
	c.sameLedger(c.status(1).LCLSeq+3, 90*time.Second, 1, 2, 3)
	c.stateHashesAgree(60 * time.Second)
	var r rate
	c.client(120*time.Second, &r, "sustained", 3, "json", "2:4")
	if r.Accepted == 0 || r.Rejected != 0 {
		t.Fatalf("through node 3 after re-anchoring: %+v", r)
	}
}
