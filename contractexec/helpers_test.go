package contractexec

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testEnv holds what TestMain prepares once: the Go test contract binary and the paths of node and
// the npm packages the nodejs contract requires.
type testEnv struct {
	goContract  string
	node        string
	nodeModules string
	testdata    string
}

// env is filled by TestMain before any test runs and never written afterwards.
var env testEnv

func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "contractexec tests: setup:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(filepath.Dir(env.goContract))
	os.Exit(code)
}

func setup() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	env.testdata = filepath.Join(wd, "testdata")
	env.nodeModules = filepath.Join(wd, "..", "test", "js", "node_modules")
	if _, err := os.Stat(filepath.Join(env.nodeModules, "hotpocket-nodejs-contract", "index.js")); err != nil {
		return fmt.Errorf("hotpocket-nodejs-contract not installed (run npm ci in test/js): %w", err)
	}
	if env.node, err = exec.LookPath("node"); err != nil {
		return fmt.Errorf("node is needed by the nodejs contract tests: %w", err)
	}
	dir, err := os.MkdirTemp("", "contractexec-bin-")
	if err != nil {
		return err
	}
	// Readable by all: TestRunAs runs the contract as another user.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	env.goContract = filepath.Join(dir, "gocontract")
	build := exec.Command("go", "build", "-o", env.goContract, "./testdata/gocontract")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build Go test contract: %v\n%s", err, out)
	}
	return nil
}

// contractKind is one of the three test contracts that implement the same command set.
type contractKind string

const (
	kindNode  contractKind = "node"
	kindGo    contractKind = "go"
	kindShell contractKind = "sh"
)

// Test keys: HotPocket-shaped hex public keys.
func testKey(b byte) string { return "ed" + strings.Repeat(fmt.Sprintf("%02x", b), 32) }

const testPrivKey = "ed" + "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"

// newContractDir lays out a hpfs-session-like directory: <tmp>/state (the working dir) and
// <tmp>/patch.cfg, and returns the state dir.
func newContractDir(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	state := filepath.Join(root, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "patch.cfg"), []byte(testPatchCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return state
}

const testPatchCfg = `{
    "version": "1.0",
    "unl": [
        "edaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    ],
    "bin_path": "/usr/bin/node",
    "bin_args": "index.js",
    "environment": {},
    "max_input_ledger_offset": 10,
    "consensus": {
        "mode": "private",
        "roundtime": 1000,
        "stage_slice": 25,
        "threshold": 80
    },
    "npl": {
        "mode": "private"
    },
    "round_limits": {
        "user_input_bytes": 0,
        "user_output_bytes": 0,
        "npl_output_bytes": 0,
        "proc_cpu_seconds": 0,
        "proc_mem_bytes": 0,
        "proc_ofd_count": 0,
        "exec_timeout": 300000
    }
}`

// baseSpec returns a consensus-round Spec running the given contract kind in dir, with Go contract
// mode args (ignored by the node and shell contracts).
func baseSpec(t testing.TB, kind contractKind, dir string, goArgs ...string) Spec {
	t.Helper()
	s := Spec{
		Dir:        dir,
		ContractID: "e295b46c-4842-4933-993d-15933f388c42",
		PublicKey:  testKey(0xaa),
		PrivateKey: testPrivKey,
		Timestamp:  1700000000123,
		LCLSeq:     42,
		LCLHash:    strings.Repeat("ab", 32),
		UNL:        []UNLNode{{PublicKey: testKey(0xaa), ActiveOn: 1700000000001}, {PublicKey: testKey(0xbb), ActiveOn: 1700000000002}},
		Limits:     Limits{Timeout: 20 * time.Second},
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	switch kind {
	case kindNode:
		s.Binary = env.node
		s.Args = []string{filepath.Join(env.testdata, "nodecontract", "index.js")}
		s.Env = []string{"NODE_PATH=" + env.nodeModules}
	case kindGo:
		s.Binary = env.goContract
		s.Args = goArgs
	case kindShell:
		s.Binary = filepath.Join(env.testdata, "shcontract.sh")
	}
	return s
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// run executes s and fails the test on a Run error.
func run(t testing.TB, s Spec) Result {
	t.Helper()
	res, err := Run(context.Background(), s)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// frames returns user i's frames as strings.
func frames(res Result, i int) []string {
	var out []string
	for _, f := range res.Users[i].Frames {
		out = append(out, string(f))
	}
	return out
}

func inputs(msgs ...string) [][]byte {
	var out [][]byte
	for _, m := range msgs {
		out = append(out, []byte(m))
	}
	return out
}
