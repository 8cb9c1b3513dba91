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
	c.missLedgers(3, 60)
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
	var r rate
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
		t.Fatalf("through node 3 after catching up: %+v\n%s", r, c.logTails())
	}
}

// missLedgers stops node k, lets the others close at least n ledgers carrying inputs, and starts
// node k again. The inputs go through node 1 (k must not be 1) and are not echo checks: in a
// cluster without k, outputs may carry fewer signatures than the js client's 80% of trusted keys.
func (c *testCluster) missLedgers(k int, n uint64) {
	c.t.Helper()
	c.stopNode(k)
	from := c.status(k).LCLSeq
	var others []int
	for i := 1; i <= c.n; i++ {
		if i != k {
			others = append(others, i)
		}
	}
	var r rate
	c.client(120*time.Second, &r, "sustained", 1, "bson", "3:4")
	c.waitAllAt(from+n, 120*time.Second, others...)
	c.hpnode(120*time.Second, "cluster", "start", c.dir, "--timeout", "100s")
}
