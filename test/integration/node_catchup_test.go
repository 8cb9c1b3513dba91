package integration

import (
	"syscall"
	"testing"
	"time"

	"github.com/hpfs/hpnode/cluster"
	"github.com/hpfs/hpnode/nodedir"
)

// TestFarBehindNodeCatchesUpByStateSync: a node that misses more than sync.catchup_ledgers (32)
// ledgers does not execute each of them. Stopped and restarted, it fetches the missed ledgers
// (verified by their certificates) and syncs its state to the newest one's recorded state before
// consensus starts; paused while running (SIGSTOP), it leaves its consensus session when it sees
// proposals far ahead, and does the same. Each time it ends on the others' ledger and state, and
// then takes inputs again.
func TestFarBehindNodeCatchesUpByStateSync(t *testing.T) {
	// 60% of 3: nodes 1 and 2 close ledgers without node 3; a 100 ms heartbeat makes ledgers pass
	// quickly.
	c := newCluster(t, 3, binBundle(t, "echo-go", 60), 19481, 24481, 100)
	c.waitAllAt(2, 60*time.Second, 1, 2, 3)

	// Restart after missing ledgers.
	c.stopNode(3)
	from := c.status(3).LCLSeq
	// Inputs, not echo checks: outputs carry two of three signatures, fewer than the 80% of the
	// trusted keys the js client requires to accept them.
	var r rate
	c.client(120*time.Second, &r, "sustained", 1, "bson", "3:4")
	c.waitAllAt(from+60, 120*time.Second, 1, 2)
	c.hpnode(120*time.Second, "cluster", "start", c.dir, "--timeout", "100s")
	c.waitLog(3, 60*time.Second, `msg="missed ledgers fetched and verified"`)
	c.waitLog(3, 60*time.Second, `msg="state is behind the ledger`)
	c.sameLedger(c.status(1).LCLSeq+3, 90*time.Second, 1, 2, 3)
	c.stateHashesAgree(60 * time.Second)

	// Paused while running.
	l3 := nodedir.Layout{Root: c.nodeDir(3)}
	pid, ok := cluster.RunningPID(l3)
	if !ok {
		t.Fatal("node 3 not running")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	paused := c.status(3).LCLSeq
	c.client(120*time.Second, &r, "sustained", 2, "json", "3:4")
	c.waitAllAt(paused+60, 120*time.Second, 1, 2)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	c.waitLog(3, 60*time.Second, `msg="far behind the cluster; catching up"`)
	c.waitLog(3, 60*time.Second, `msg="caught up"`)
	c.sameLedger(c.status(1).LCLSeq+3, 90*time.Second, 1, 2, 3)
	c.stateHashesAgree(60 * time.Second)
	c.client(120*time.Second, &r, "sustained", 3, "bson", "2:4")
	if r.Accepted == 0 || r.Rejected != 0 {
		t.Fatalf("through node 3 after catching up: %+v", r)
	}
}
