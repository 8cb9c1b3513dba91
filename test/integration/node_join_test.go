package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hpfs/hpnode/cluster"
	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/nodedir"
)

// TestBlankNodeClonesClusterAndJoinsUNL is issue 9's seed scenario: a blank node that knows only
// the contract id, one peer address and one UNL key discovers the mesh, clones patch.cfg, the
// state (which holds the contract itself) and the ledger with verified proofs, follows consensus as
// an observer (executing the contract, serving users and read requests), and becomes a voter when
// the contract adds its key to the UNL.
func TestBlankNodeClonesClusterAndJoinsUNL(t *testing.T) {
	c := newCluster(t, 3, nodejsBundle(t), 18581, 23581, 500)
	var s echoSummary
	c.client(120*time.Second, &s, "echo", 1, "json", "20")

	// The blank node: nothing but `hpnode new DIR --contract-id ID --peers HOST:PORT --unl KEY`.
	m, err := cluster.Open(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "blank")
	c.hpnode(30*time.Second, "new", dir, "--contract-id", m.ContractID, "--peers", "127.0.0.1:23581",
		"--unl", c.keys[0], "--user-port", "18591", "--peer-port", "23591")
	blank := startNode(t, c.bin, dir)

	// It reaches the cluster's ledger with the same state.
	target := c.status(1).LCLSeq
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := nodedir.ReadStatus(nodedir.Layout{Root: dir})
		if err == nil && st.LCLSeq >= target && st.StateHash == c.status(1).StateHash && st.VoteStatus == "synced" {
			if st.InUNL {
				t.Fatal("blank node claims UNL membership before the UNL added it")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blank node did not catch up (status %+v, err %v)\n%s", st, err, blank.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	cfg, err := config.Load(nodedir.Layout{Root: dir}.HPCfg())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Contract.UNL, c.keys) || cfg.Contract.BinPath != "/usr/bin/node" {
		t.Fatalf("blank node's hp.cfg did not take the cluster's patch.cfg: unl %v bin %q", cfg.Contract.UNL, cfg.Contract.BinPath)
	}

	// As an observer it serves users: inputs relayed to the UNL, outputs and reads answered. (A
	// client that pins trustedServerKeys to the UNL refuses a non-UNL server, as on HotPocket.)
	bc := &testCluster{t: t, dir: c.dir, bin: c.bin, n: c.n, userBase: 18591}
	bc.client(90*time.Second, &s, "echo", 1, "bson", "5")
	if s.Accepted != 5 || s.ValidationFailures != 0 {
		t.Fatalf("through the blank node: %+v", s)
	}

	// The UNL adds it (the contract's updateConfig); from then on it votes.
	var u struct {
		UNL []string `json:"unl"`
	}
	c.client(90*time.Second, &u, "unl_add", 2, "json", cfg.Node.PublicKey)
	deadline = time.Now().Add(60 * time.Second)
	for {
		st, err := nodedir.ReadStatus(nodedir.Layout{Root: dir})
		if err == nil && st.InUNL && st.LCLSeq > c.status(1).LCLSeq-2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joined node never became a UNL member (status %+v)\n%s", st, blank.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Four UNL members at 80% need all four votes: ledgers still close only if it votes.
	before := c.status(1).LCLSeq
	c.waitAllAt(before+3, 60*time.Second, 1, 2, 3)
}

// runningNode is an `hpnode run` started by a test.
type runningNode struct {
	cmd *exec.Cmd
	dir string
}

func startNode(t *testing.T, bin, dir string) *runningNode {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "hpnode"), "run", dir)
	log, err := os.Create(filepath.Join(t.TempDir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &runningNode{cmd: cmd, dir: dir}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		log.Close()
	})
	return n
}

func (r *runningNode) tail() string {
	data, _ := os.ReadFile(nodedir.Layout{Root: r.dir}.NodeLog())
	if len(data) > 6000 {
		data = data[len(data)-6000:]
	}
	return string(data)
}

var _ = context.Background
