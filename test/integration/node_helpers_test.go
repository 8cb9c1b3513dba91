package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/nodedir"
)

// repoRoot is the module root, from this file's location.
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var buildOnce sync.Once
var buildDir string
var buildErr error

// binaries builds hpnode, hpfsd, the Go echo contract and the non-deterministic test contract once
// per test binary.
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "hpnode-bin-")
		if buildErr != nil {
			return
		}
		root := repoRoot(t)
		for _, pkg := range []string{"./cmd/hpnode", "./cmd/hpfsd", "./examples/echo-go", "./test/integration/testdata/nondet"} {
			cmd := exec.Command("go", "build", "-o", buildDir+"/", pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func requireNode(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node (Node.js) is required for the user-client tests")
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "test", "js", "node_modules", "hotpocket-js-client")); err != nil {
		t.Fatal("test/js/node_modules missing: run npm ci in test/js (.ci/run does)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatal("/dev/fuse is required")
	}
}

// testCluster is a local cluster made and driven through the hpnode command line.
type testCluster struct {
	t        testing.TB
	dir      string
	bin      string
	n        int
	userBase int
	keys     []string // node public keys, node k at k-1
}

// nodejsBundle is the example echo contract with its node_modules (installed by .ci/run).
func nodejsBundle(t testing.TB) string {
	b := filepath.Join(repoRoot(t), "examples", "echo-nodejs")
	if _, err := os.Stat(filepath.Join(b, "node_modules", "hotpocket-nodejs-contract")); err != nil {
		t.Fatal("examples/echo-nodejs/node_modules missing: run npm ci there (.ci/run does)")
	}
	return b
}

// goBundle is a bundle holding the compiled Go echo contract.
func goBundle(t testing.TB) string { return binBundle(t, "echo-go", 0) }

// binBundle is a bundle holding the compiled contract name (built by binaries) as its binary, with
// the cluster's consensus threshold set to threshold percent when it is not 0 (HotPocket's 80%
// needs every vote of a 3- or 4-node UNL; tests that stop or desync a member lower it).
func binBundle(t testing.TB, name string, threshold int) string {
	bin := binaries(t)
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(bin, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
		t.Fatal(err)
	}
	consensus := ""
	if threshold != 0 {
		consensus = fmt.Sprintf(`,"consensus":{"threshold":%d}`, threshold)
	}
	override := fmt.Sprintf(`{"contract":{"bin_path":%q,"bin_args":""%s}}`, name, consensus)
	if err := os.WriteFile(filepath.Join(dir, nodedir.OverrideFile), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newCluster creates and starts an n-node cluster with user ports userBase.. and peer ports
// peerBase..; it is stopped and removed at the end of the test.
func newCluster(t testing.TB, n int, bundle string, userBase, peerBase int, roundtime int) *testCluster {
	t.Helper()
	requireNode(t)
	bin := binaries(t)
	c := &testCluster{t: t, dir: filepath.Join(t.TempDir(), "cluster"), bin: bin, n: n, userBase: userBase}
	c.hpnode(60*time.Second, "cluster", "create", c.dir, "--nodes", fmt.Sprint(n), "--contract", bundle,
		"--user-port", fmt.Sprint(userBase), "--peer-port", fmt.Sprint(peerBase), "--roundtime", fmt.Sprint(roundtime))
	for k := 1; k <= n; k++ {
		cfg, err := config.Load(nodedir.Layout{Root: c.nodeDir(k)}.HPCfg())
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, cfg.Node.PublicKey)
	}
	t.Cleanup(func() {
		c.hpnode(60*time.Second, "cluster", "clean", c.dir)
	})
	c.hpnode(120*time.Second, "cluster", "start", c.dir, "--timeout", "100s")
	return c
}

func (c *testCluster) nodeDir(k int) string { return filepath.Join(c.dir, fmt.Sprintf("node%d", k)) }

func (c *testCluster) url(k int) string { return fmt.Sprintf("wss://127.0.0.1:%d", c.userBase+k-1) }

// hpnode runs the hpnode command line and fails the test on error.
func (c *testCluster) hpnode(timeout time.Duration, args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "hpnode"), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("hpnode %s: %v\n%s%s", strings.Join(args, " "), err, out, c.logTails())
	}
	return string(out)
}

// logTails is the end of every node's log, for failure messages: its warnings and errors, then
// its last lines without the idle heartbeat ledgers (inputs=0), which would otherwise push out
// whatever happened before the failure.
func (c *testCluster) logTails() string {
	var b strings.Builder
	for k := 1; k <= c.n; k++ {
		for _, name := range []string{"hp.log", "console.log", "hpfs.log"} {
			data, err := os.ReadFile(filepath.Join(c.nodeDir(k), "log", name))
			if err != nil {
				continue
			}
			var warn, busy []string
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
					warn = append(warn, l)
				}
				if !strings.Contains(l, "inputs=0") {
					busy = append(busy, l)
				}
			}
			if len(warn) > 0 {
				fmt.Fprintf(&b, "--- node %d %s (warnings and errors, last 30)\n%s\n", k, name, strings.Join(warn[max(0, len(warn)-30):], "\n"))
			}
			fmt.Fprintf(&b, "--- node %d %s (last 25 lines but idle ledgers)\n%s\n", k, name, strings.Join(busy[max(0, len(busy)-25):], "\n"))
		}
	}
	return b.String()
}

// client runs testdata/cluster_client.js and decodes its summary into out.
func (c *testCluster) client(timeout time.Duration, out any, mode string, node int, protocol string, arg string) {
	c.t.Helper()
	if err := c.runClient(timeout, out, mode, node, protocol, arg); err != nil {
		c.t.Fatalf("%v\n%s", err, c.logTails())
	}
}

// runClient is client for any goroutine: it returns what went wrong instead of failing the test.
func (c *testCluster) runClient(timeout time.Duration, out any, mode string, node int, protocol string, arg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	script := filepath.Join(repoRoot(c.t), "test", "integration", "testdata", "cluster_client.js")
	cmd := exec.CommandContext(ctx, "node", script, mode, c.url(node), strings.Join(c.keys, ","), protocol, arg)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(repoRoot(c.t), "test", "js", "node_modules"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("client %s on node %d (%s): %v\nstdout: %s\nstderr: %s", mode, node, protocol, err, stdout.String(), stderr.String())
	}
	line := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), out); err != nil {
		return fmt.Errorf("client summary %q: %v", line, err)
	}
	return nil
}

// status reads node k's published status.
func (c *testCluster) status(k int) nodedir.Status {
	s, err := nodedir.ReadStatus(nodedir.Layout{Root: c.nodeDir(k)})
	if err != nil {
		c.t.Fatalf("node %d status: %v", k, err)
	}
	return s
}

// waitAllAt waits until every listed node has closed ledger seq or later, and returns their
// statuses.
func (c *testCluster) waitAllAt(seq uint64, timeout time.Duration, nodes ...int) map[int]nodedir.Status {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := map[int]nodedir.Status{}
		for _, k := range nodes {
			if s, err := nodedir.ReadStatus(nodedir.Layout{Root: c.nodeDir(k)}); err == nil && s.LCLSeq >= seq {
				out[k] = s
			}
		}
		if len(out) == len(nodes) {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nodes %v did not reach ledger %d in %v\n%s", nodes, seq, timeout, c.logTails())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stateHashesAgree waits until the listed nodes (every node when none is listed) report the same
// state hash.
func (c *testCluster) stateHashesAgree(timeout time.Duration, nodes ...int) string {
	c.t.Helper()
	if len(nodes) == 0 {
		for k := 1; k <= c.n; k++ {
			nodes = append(nodes, k)
		}
	}
	deadline := time.Now().Add(timeout)
	var last []string
	for time.Now().Before(deadline) {
		last = last[:0]
		for _, k := range nodes {
			s := c.status(k)
			last = append(last, s.StateHash)
		}
		same := true
		for _, h := range last {
			same = same && h == last[0]
		}
		if same && last[0] != "" {
			return last[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("state hashes never agreed: %v\n%s", last, c.logTails())
	return ""
}
