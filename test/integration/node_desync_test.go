package integration

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpfs/hpnode/nodedir"
)

// TestNondeterministicNodeDesyncsResyncsAndContinues is issue 9's "a node with a non-deterministic
// contract diverges, reports desync, re-syncs and continues": in a 5-node cluster (80% of 5 is 4,
// so four members close ledgers without the fifth, and the 4 signatures a ledger carries are the
// 80% the js client requires to trust an output) the contract writes random bytes on node 5 only.
// Node 5's execution result then differs from the other four: it must report desync, sync its
// state to the majority's root with verified proofs (dropping its random file), and go back to
// executing and voting with the others, ending on the same ledger and state hash.
func TestNondeterministicNodeDesyncsResyncsAndContinues(t *testing.T) {
	c := newCluster(t, 5, binBundle(t, "nondet", 0), 19081, 24081, 300)
	c.waitAllAt(2, 60*time.Second, 1, 2, 3, 4, 5)
	l5 := nodedir.Layout{Root: c.nodeDir(5)}

	var s echoSummary
	c.client(90*time.Second, &s, "input", 1, "bson", "diverge:"+c.keys[4])

	// Node 5 notices that its result differs from the majority's and syncs to it.
	c.waitLog(5, 60*time.Second, `msg="vote status" status=desync`)
	c.waitLog(5, 90*time.Second, `msg="state sync done"`)

	// It continues: inputs submitted through it are accepted, executed, and echoed with outputs
	// that pass the client's check against the UNL's signatures. A node sends users only outputs
	// whose hash equals the agreed one, so these prove node 5 executes in step again.
	c.client(120*time.Second, &s, "echo", 5, "json", "20")
	if s.Accepted != 20 || s.ValidationFailures != 0 {
		t.Fatalf("inputs through the resynced node: %+v", s)
	}

	// All five close the same ledgers, node 5 executes to the same state as the others (its own
	// result, which the status file shows), and it votes again (a member's status becomes synced
	// when it sends a vote).
	c.sameLedger(c.status(1).LCLSeq+3, 90*time.Second, 1, 2, 3, 4, 5)
	c.stateHashesAgree(60 * time.Second)
	if st := c.status(5); st.VoteStatus != "synced" || !st.InUNL {
		t.Fatalf("node 5 after the resync: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(l5.Mount(), "current", "state", "noise.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("node 5 kept its non-deterministic file after the resync (stat err %v)", err)
	}
	data, err := os.ReadFile(filepath.Join(l5.Mount(), "current", "state", "inputs.log"))
	if err != nil || !strings.Contains(string(data), "diverge:"+c.keys[4]+"\n") || !strings.Contains(string(data), "input-19\n") {
		t.Fatalf("node 5's inputs.log after the resync (err %v): %q", err, data)
	}
}

// waitLog waits until node k's log holds a line containing want.
func (c *testCluster) waitLog(k int, timeout time.Duration, want string) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(nodedir.Layout{Root: c.nodeDir(k)}.NodeLog())
		if strings.Contains(string(data), want) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d never logged %q\n%s", k, want, c.logTails())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameLedger waits until the listed nodes have closed ledger seq and checks that each logged the
// same "Ledger created (lcl:SEQ-HASH state:... patch:...)" line for it.
func (c *testCluster) sameLedger(seq uint64, timeout time.Duration, nodes ...int) {
	c.t.Helper()
	c.waitAllAt(seq, timeout, nodes...)
	want := fmt.Sprintf("Ledger created (lcl:%d-", seq)
	lines := map[string][]int{}
	for _, k := range nodes {
		data, err := os.ReadFile(nodedir.Layout{Root: c.nodeDir(k)}.NodeLog())
		if err != nil {
			c.t.Fatal(err)
		}
		line := ""
		for _, l := range strings.Split(string(data), "\n") {
			if i := strings.Index(l, want); i >= 0 {
				line = l[i:min(len(l), strings.IndexByte(l[i:], ')')+i+1)]
			}
		}
		lines[line] = append(lines[line], k)
	}
	if len(lines) != 1 {
		c.t.Fatalf("nodes disagree on ledger %d: %v", seq, lines)
	}
	if _, ok := lines[""]; ok {
		c.t.Fatalf("nodes %v logged no ledger %d", nodes, seq)
	}
}
