package contractexec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var allKinds = []contractKind{kindNode, kindGo, kindShell}

// reply is how contract kind k frames the string reply s: the nodejs library sends strings as JSON
// (user.send(str) is JSON.stringify in json mode); the Go and shell contracts send raw bytes.
func reply(k contractKind, s string) string {
	if k == kindNode {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return s
}

func forKinds(t *testing.T, f func(t *testing.T, k contractKind)) {
	for _, k := range allKinds {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

func TestABIEchoesInputsInOrder(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		s := baseSpec(t, k, newContractDir(t))
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("echo:a", "echo:bb", "echo:with space", "echo:ccc")}}
		res := run(t, s)
		want := []string{reply(k, "echo:a"), reply(k, "echo:bb"), reply(k, "echo:with space"), reply(k, "echo:ccc")}
		if got := frames(res, 0); !slices.Equal(got, want) || !res.Exit.Normal() {
			t.Fatalf("frames %q (%s), want %q", got, res.Summary(), want)
		}
		if res.StdinUnread || len(res.LimitsHit) != 0 || res.Users[0].Incomplete != nil {
			t.Fatalf("unexpected result: %s", res.Summary())
		}
	})
}

func TestABIContractSeesStdinArguments(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		s := baseSpec(t, k, newContractDir(t))
		s.Users = []User{
			{PublicKey: testKey(2), Inputs: inputs("ctx")},
			{PublicKey: testKey(1), Inputs: inputs("echo:x", "echo:y")},
		}
		res := run(t, s)
		got := frames(res, 0)
		if len(got) != 1 {
			t.Fatalf("user 2 frames %q (%s)", got, res.Summary())
		}
		if k == kindShell {
			want := strings.Join([]string{"ctx", s.ContractID, s.PublicKey, "1700000000123", "42", s.LCLHash, "2"}, ":")
			if got[0] != want {
				t.Fatalf("shell saw %q, want %q", got[0], want)
			}
			return
		}
		var saw struct {
			ContractID string  `json:"contractId"`
			PublicKey  string  `json:"publicKey"`
			PrivateKey string  `json:"privateKey"`
			Timestamp  uint64  `json:"timestamp"`
			Readonly   bool    `json:"readonly"`
			LCLSeq     uint64  `json:"lclSeqNo"`
			LCLHash    string  `json:"lclHash"`
			Users      [][]any `json:"users"`
			UNL        [][]any `json:"unl"`
		}
		if err := json.Unmarshal([]byte(got[0]), &saw); err != nil {
			t.Fatalf("ctx reply %q: %v", got[0], err)
		}
		if saw.ContractID != s.ContractID || saw.PublicKey != s.PublicKey || saw.PrivateKey != s.PrivateKey ||
			saw.Timestamp != s.Timestamp || saw.Readonly || saw.LCLSeq != s.LCLSeq || saw.LCLHash != s.LCLHash {
			t.Fatalf("contract saw %+v", saw)
		}
		// Users sorted by key, each with its input count; UNL with active_on.
		wantUsers := `[["` + testKey(1) + `",2],["` + testKey(2) + `",1]]`
		if b, _ := json.Marshal(saw.Users); string(b) != wantUsers {
			t.Fatalf("users %s, want %s", b, wantUsers)
		}
		wantUNL := `[["` + testKey(0xaa) + `",1700000000001],["` + testKey(0xbb) + `",1700000000002]]`
		if b, _ := json.Marshal(saw.UNL); string(b) != wantUNL {
			t.Fatalf("unl %s, want %s", b, wantUNL)
		}
	})
}

func TestABIMultipleUsersGetTheirOwnOutputs(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		s := baseSpec(t, k, newContractDir(t))
		s.Users = []User{
			{PublicKey: testKey(3), Inputs: inputs("echo:three-a", "echo:three-b")},
			{PublicKey: testKey(1), Inputs: inputs("echo:one")},
			{PublicKey: testKey(4)}, // consensed user without input: still gets a socket, no output
			{PublicKey: testKey(2), Inputs: inputs("echo:two-a", "echo:two-b", "echo:two-c")},
		}
		res := run(t, s)
		want := [][]string{
			{reply(k, "echo:three-a"), reply(k, "echo:three-b")},
			{reply(k, "echo:one")},
			nil,
			{reply(k, "echo:two-a"), reply(k, "echo:two-b"), reply(k, "echo:two-c")},
		}
		for i := range want {
			if got := frames(res, i); !slices.Equal(got, want[i]) || res.Users[i].PublicKey != s.Users[i].PublicKey {
				t.Fatalf("user %d (%s): frames %q, want %q (%s)", i, res.Users[i].PublicKey, got, want[i], res.Summary())
			}
		}
	})
}

func TestABIStateFilesPersistAcrossRounds(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		dir := newContractDir(t)
		s := baseSpec(t, k, dir)
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("write:counter.txt:7")}}
		if got := frames(run(t, s), 0); !slices.Equal(got, []string{reply(k, "wrote:counter.txt")}) {
			t.Fatalf("write round: %q", got)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "counter.txt")); err != nil || string(b) != "7" {
			t.Fatalf("state file after round 1: %q, %v", b, err)
		}
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("read:counter.txt")}}
		if got := frames(run(t, s), 0); !slices.Equal(got, []string{reply(k, "read:7")}) {
			t.Fatalf("read round: %q", got)
		}
	})
}

func TestABIPatchConfigUpdate(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		dir := newContractDir(t)
		s := baseSpec(t, k, dir)
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("config:2.5")}}
		res := run(t, s)
		if got := frames(res, 0); !slices.Equal(got, []string{reply(k, "config:2.5")}) {
			t.Fatalf("frames %q (%s) stderr %q", got, res.Summary(), res.StderrTail)
		}
		b, err := os.ReadFile(filepath.Join(dir, "..", "patch.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Version string   `json:"version"`
			UNL     []string `json:"unl"`
		}
		if err := json.Unmarshal(b, &cfg); err != nil || cfg.Version != "2.5" || len(cfg.UNL) != 1 {
			t.Fatalf("patch.cfg after update: %+v, %v\n%s", cfg, err, b)
		}
		if k == kindNode && !strings.Contains(string(b), "\n    \"version\": \"2.5\",\n") {
			t.Fatalf("updateConfig did not write JSON.stringify(cfg, null, 4):\n%s", b)
		}
	})
}

func TestABIPeerChangesetControlMessage(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		s := baseSpec(t, k, newContractDir(t))
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("peers")}}
		res := run(t, s)
		if len(res.Control) != 1 {
			t.Fatalf("control messages %+v (%s)", res.Control, res.Summary())
		}
		c := res.Control[0]
		if c.Type != ControlPeerChangeset || !slices.Equal(c.Add, []string{"10.0.0.1:22860", "10.0.0.3:22860"}) ||
			!slices.Equal(c.Remove, []string{"10.0.0.2:22860"}) || c.RemoveAll {
			t.Fatalf("control message %+v", c)
		}
	})
}

// TestABINPLBothWays runs the NPL exchange of one node of a two-node UNL: a message from the other
// node arrives before the contract starts (it must be buffered), the contract's own message is
// looped back to it as the node does, and the contract must receive both, each as two packets.
func TestABINPLBothWays(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		s := baseSpec(t, k, newContractDir(t))
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("npl:2")}}
		if k == kindNode {
			s.Args = []string{filepath.Join(env.testdata, "nodecontract", "npl.js")}
		}
		inbox := NewNPLInbox(0)
		inbox.Push(NPLMessage{From: testKey(0xbb), Data: []byte("early from bb")})
		s.NPLIn = inbox
		s.NPLOut = func(m []byte) { inbox.Push(NPLMessage{From: s.PublicKey, Data: m}) }
		res := run(t, s)
		self := "npl from " + s.PublicKey
		if len(res.NPL) != 1 || string(res.NPL[0]) != self {
			t.Fatalf("NPL sent %q (%s)", res.NPL, res.Summary())
		}
		got := frames(res, 0)
		var want string
		switch k {
		case kindShell:
			want = "npl:" + testKey(0xaa) + "=" + self + ";" + testKey(0xbb) + "=early from bb;"
		default:
			b, _ := json.Marshal(map[string]any{"npl": [][2]string{{testKey(0xaa), self}, {testKey(0xbb), "early from bb"}}})
			want = string(b)
		}
		if !slices.Equal(got, []string{want}) {
			t.Fatalf("contract received %q, want %q (%s) %s", got, want, res.Summary(), res.StderrTail)
		}
		if k == kindNode && !res.Completed() {
			t.Fatalf("forceTerminate contract should count as completed: %s", res.Summary())
		}
		if res.NPLDropped != 0 {
			t.Fatalf("dropped %d NPL messages", res.NPLDropped)
		}
	})
}

func TestABIReadonlyRequest(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		s := baseSpec(t, k, newContractDir(t))
		s.Readonly = true
		s.NPLIn = NewNPLInbox(0) // ignored: no NPL in readonly mode
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("query:balance")}}
		res := run(t, s)
		want := []string{reply(k, "ro1:query:balance"), reply(k, "ro2:query:balance")}
		if got := frames(res, 0); !slices.Equal(got, want) || !res.Exit.Normal() {
			t.Fatalf("replies %q, want %q (%s) %s", got, want, res.Summary(), res.StderrTail)
		}
	})
}

// TestABIPostExecScript: a contract leaves post_exec.sh in its state dir; after the round it runs
// with one argument "<seq> <hash>" and, exiting 0, is deleted.
func TestABIPostExecScript(t *testing.T) {
	forKinds(t, func(t *testing.T, k contractKind) {
		dir := newContractDir(t)
		s := baseSpec(t, k, dir)
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("postexec:0")}}
		res := run(t, s)
		if got := frames(res, 0); !slices.Equal(got, []string{reply(k, "postexec:written")}) || !res.Completed() {
			t.Fatalf("frames %q (%s)", got, res.Summary())
		}
		out, err := RunPostExec(context.Background(), dir, s.LCLSeq, s.LCLHash, 10*time.Second)
		if out != PostExecDeleted || err != nil {
			t.Fatalf("outcome %v err %v", out, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "post_exec.out")); string(b) != "42 "+s.LCLHash+"\n" {
			t.Fatalf("post_exec.sh got argument %q, want one argument \"<seq> <hash>\"", b)
		}
		if _, err := os.Stat(filepath.Join(dir, PostExecScript)); err == nil {
			t.Fatal("post_exec.sh exited 0 but was not deleted")
		}
	})
}

// TestPostExecExitCodes: 0 deletes the script, 3..125 keep it, anything else is an error.
func TestPostExecExitCodes(t *testing.T) {
	for _, tc := range []struct {
		code    string
		outcome PostExecOutcome
		exists  bool
	}{
		{"0", PostExecDeleted, false},
		{"3", PostExecKept, true},
		{"5", PostExecKept, true},
		{"125", PostExecKept, true},
		{"1", PostExecFailed, true},
		{"2", PostExecFailed, true},
		{"126", PostExecFailed, true},
		{"255", PostExecFailed, true},
	} {
		dir := t.TempDir()
		script := filepath.Join(dir, PostExecScript)
		os.WriteFile(script, []byte("#!/bin/sh\nexit "+tc.code+"\n"), 0o755)
		out, err := RunPostExec(context.Background(), dir, 1, "00", 10*time.Second)
		if out != tc.outcome || (err != nil) != (tc.outcome == PostExecFailed) {
			t.Errorf("exit %s: outcome %v err %v, want %v", tc.code, out, err, tc.outcome)
		}
		if tc.outcome == PostExecFailed && !errors.Is(err, ErrPostExec) {
			t.Errorf("exit %s: err %v does not wrap ErrPostExec", tc.code, err)
		}
		if _, err := os.Stat(script); (err == nil) != tc.exists {
			t.Errorf("exit %s: script exists=%v, want %v", tc.code, err == nil, tc.exists)
		}
	}
}

func TestPostExecAbsentRunsNothing(t *testing.T) {
	out, err := RunPostExec(context.Background(), t.TempDir(), 1, "00", time.Second)
	if out != PostExecAbsent || err != nil {
		t.Fatalf("outcome %v err %v", out, err)
	}
}

func TestPostExecTimeoutKillsScript(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, PostExecScript), []byte("#!/bin/sh\nsleep 30 &\nsleep 30\n"), 0o755)
	start := time.Now()
	out, err := RunPostExec(context.Background(), dir, 1, "00", 300*time.Millisecond)
	if out != PostExecFailed || err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("outcome %v err %v", out, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
}

func TestPostExecScriptWithoutShebangRunsUnderSh(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, PostExecScript), []byte("echo \"$1\" > out\nexit 7\n"), 0o755)
	out, err := RunPostExec(context.Background(), dir, 9, "ff", time.Second)
	if out != PostExecKept || err != nil {
		t.Fatalf("outcome %v err %v", out, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out")); string(b) != "9 ff\n" {
		t.Fatalf("argument %q", b)
	}
}
