package userapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// jsModules is where CI's `npm ci` installs the pinned npm packages.
func jsModules(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "test", "js", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "hotpocket-js-client", "index.js")); err != nil {
		t.Fatalf("hotpocket-js-client not installed (run npm ci in test/js): %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not on PATH: %v", err)
	}
	return dir
}

// runLedgers closes a ledger every tick while inputs are pending, like a node's rounds (never an
// empty one: a loaded machine must not expire inputs). An input "addunl:N" makes the "contract"
// add UNL key N, as in the seed tutorial's updateConfig flow.
func runLedgers(ctx context.Context, b *testBackend, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b.mu.Lock()
		pending := len(b.pending)
		b.mu.Unlock()
		if pending == 0 {
			continue
		}
		l := b.closeLedger()
		for _, in := range l.Inputs {
			if s, ok := strings.CutPrefix(string(in.Blob), "addunl:"); ok {
				i, _ := strconv.Atoi(s)
				seed := blake3.Sum256(fmt.Appendf(nil, "unl key %d", i))
				b.mu.Lock()
				keys := append(append([]ed25519.PrivateKey(nil), b.unl...), ed25519.NewKeyFromSeed(seed[:]))
				b.mu.Unlock()
				b.changeUNL(keys)
			}
		}
	}
}

// runNode runs testdata/script with the pinned npm packages and returns its last stdout line.
func runNode(t testing.TB, modules, script string, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join("testdata", script)}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return []byte(lines[len(lines)-1]), nil
}

type jsSummary struct {
	Accepted           int      `json:"accepted"`
	Outputs            int      `json:"outputs"`
	ValidationFailures int      `json:"validationFailures"`
	LedgerEvents       int      `json:"ledgerEvents"`
	UNL                []string `json:"unl"`
	LedgerInputs       int      `json:"ledgerInputs"`
	Read               string   `json:"read"`
}

// TestRealJSClient runs the real hotpocket-js-client@0.5.7 (testdata/client.js) with
// trustedServerKeys against the server: handshake, stat, inputs accepted, outputs that pass the
// client's own verifyContractOutputTrust, a nonce_expired rejection, getLedgerBySeqNo with inputs,
// a read request, ledger_event and unl_change subscriptions, in JSON and in BSON.
func TestRealJSClient(t *testing.T) {
	modules := jsModules(t)
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) {
			b := newTestBackend(3)
			b.maxOff = 0 // the script asks for a 1,000-ledger window: a slow machine must not expire inputs
			ts := startServer(t, b, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); runLedgers(ctx, b, 20*time.Millisecond) }()
			defer func() { cancel(); <-done }()

			const inputs = 100
			out, err := runNode(t, modules, "client.js", 90*time.Second, ts.url, HexKey(b.unlKeys()[0]), proto.String(), strconv.Itoa(inputs))
			if err != nil {
				t.Fatal(err)
			}
			var sum jsSummary
			if err := json.Unmarshal(out, &sum); err != nil {
				t.Fatalf("client.js output %q: %v", out, err)
			}
			if sum.Accepted != inputs || sum.Outputs < inputs+2 || sum.ValidationFailures != 0 ||
				sum.LedgerEvents == 0 || len(sum.UNL) != 4 || sum.LedgerInputs == 0 || sum.Read != "read:query" {
				t.Fatalf("client.js summary %+v", sum)
			}
		})
	}
}
