package contractexec

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkNextRunWorks runs a normal Go echo round in dir: whatever the previous run did, the next one
// must behave.
func checkNextRunWorks(t *testing.T, dir string) {
	t.Helper()
	s := baseSpec(t, kindGo, dir)
	s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("echo:after")}}
	res := run(t, s)
	if got := frames(res, 0); !slices.Equal(got, []string{"echo:after"}) || !res.Exit.Normal() {
		t.Fatalf("run after the fault: frames %q (%s)", got, res.Summary())
	}
}

// TestFaults runs each misbehaving contract with the limit that must stop it, checks the Result
// says what happened within the limit, and that the next execution works.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   contractKind
		mode   string
		limits Limits
		// maxElapsed bounds how long the run may take. By default it is well under the 30 s
		// timeout: the run must end by its own fault or limit, never by the wall-clock backstop
		// (CPU, memory and fd limits are not wall-clock limits, and two shared cores stretch them).
		maxElapsed time.Duration
		check      func(t *testing.T, res Result)
	}{
		{name: "crash", kind: kindGo, mode: "crash", check: func(t *testing.T, res Result) {
			if res.Exit.Normal() || !res.Exit.Exited || res.Exit.Code != 2 {
				t.Fatalf("crash: %s", res.Summary())
			}
			if !bytes.Contains(res.StderrTail, []byte("nil pointer dereference")) {
				t.Fatalf("stderr tail %q", res.StderrTail)
			}
			if got := frames(res, 0); !slices.Equal(got, []string{"before crash"}) {
				t.Fatalf("output written before the crash is lost: %q", got)
			}
			if len(res.LimitsHit) != 0 {
				t.Fatalf("a crash is no limit: %v", res.LimitsHit)
			}
		}},
		{name: "node-throws", kind: kindNode, mode: "throw", check: func(t *testing.T, res Result) {
			if res.Exit.Normal() || !bytes.Contains(res.StderrTail, []byte("contract bug")) {
				t.Fatalf("throw: %s stderr %q", res.Summary(), res.StderrTail)
			}
		}},
		// CPU limits are in CPU time; the wall-clock bound is the timeout, as two shared cores can
		// stretch a CPU second a lot. Go ignores SIGXCPU, so the hard limit (soft + 1 s) kills it.
		{name: "infinite-loop-cpu", kind: kindGo, mode: "loop", limits: Limits{CPUSeconds: 1, Timeout: 30 * time.Second}, check: func(t *testing.T, res Result) {
			if !res.Hit(LimitCPU) || res.Hit(LimitTimeout) || res.Exit.Signal != syscall.SIGKILL {
				t.Fatalf("loop: %s %+v", res.Summary(), res.Usage)
			}
			if cpu := res.Usage.User + res.Usage.System; cpu > 2500*time.Millisecond {
				t.Fatalf("used %v of CPU past a 1 s limit", cpu)
			}
		}},
		{name: "node-infinite-loop-cpu", kind: kindNode, mode: "loop", limits: Limits{CPUSeconds: 1, Timeout: 30 * time.Second}, check: func(t *testing.T, res Result) {
			if !res.Hit(LimitCPU) || res.Exit.Signal != syscall.SIGXCPU {
				t.Fatalf("node loop: %s %+v", res.Summary(), res.Usage)
			}
		}},
		{name: "infinite-loop-timeout", kind: kindGo, mode: "loop", limits: Limits{Timeout: 500 * time.Millisecond}, maxElapsed: 5 * time.Second, check: func(t *testing.T, res Result) {
			if !res.Hit(LimitTimeout) || res.Exit.Signal != syscall.SIGKILL {
				t.Fatalf("loop: %s %+v", res.Summary(), res.Usage)
			}
		}},
		{name: "sleep-timeout", kind: kindGo, mode: "sleep", limits: Limits{Timeout: 300 * time.Millisecond}, maxElapsed: 5 * time.Second, check: func(t *testing.T, res Result) {
			if !res.Hit(LimitTimeout) || len(res.LimitsHit) != 1 {
				t.Fatalf("sleep: %s", res.Summary())
			}
		}},
		{name: "unbounded-allocation", kind: kindGo, mode: "alloc", limits: Limits{MemoryBytes: 256 << 20, Timeout: 30 * time.Second}, check: func(t *testing.T, res Result) {
			if !res.Hit(LimitMemory) || res.Exit.Normal() {
				t.Fatalf("alloc: %s stderr %q", res.Summary(), res.StderrTail)
			}
		}},
		{name: "node-unbounded-allocation", kind: kindNode, mode: "alloc", limits: Limits{MemoryBytes: 256 << 20, Timeout: 30 * time.Second}, check: func(t *testing.T, res Result) {
			if !res.Hit(LimitMemory) || res.Exit.Normal() {
				t.Fatalf("node alloc: %s stderr %q", res.Summary(), res.StderrTail)
			}
		}},
		{name: "unbounded-fds", kind: kindGo, mode: "fds", limits: Limits{OpenFiles: 64}, check: func(t *testing.T, res Result) {
			if !res.Hit(LimitOpenFiles) || res.Exit.Normal() {
				t.Fatalf("fds: %s stderr %q", res.Summary(), res.StderrTail)
			}
		}},
		{name: "100MB-output", kind: kindGo, mode: "bigout", limits: Limits{UserOutputBytes: 1 << 20}, check: func(t *testing.T, res Result) {
			u := res.Users[0]
			if !res.Hit(LimitUserOutput) || !u.LimitHit {
				t.Fatalf("bigout: %s", res.Summary())
			}
			if u.Bytes > 1<<20+readBufSize {
				t.Fatalf("read %d bytes past a 1 MiB limit", u.Bytes)
			}
			if len(u.Frames) > 1 {
				t.Fatalf("%d frames kept; at most the first 1 MiB frame fits", len(u.Frames))
			}
		}},
		// Without a limit everything arrives (20 MiB: the race detector makes each byte read costly).
		{name: "20MB-output-unlimited", kind: kindGo, mode: "midout", check: func(t *testing.T, res Result) {
			if len(res.Users[0].Frames) != 20 || res.Users[0].Bytes != 20*(1<<20+4) || !res.Exit.Normal() {
				t.Fatalf("bigout: %d frames %d bytes (%s)", len(res.Users[0].Frames), res.Users[0].Bytes, res.Summary())
			}
		}},
		{name: "broken-frame", kind: kindGo, mode: "brokenframe", check: func(t *testing.T, res Result) {
			u := res.Users[0]
			if !slices.Equal(frames(res, 0), []string{"whole"}) || u.Incomplete == nil ||
				!strings.Contains(u.Incomplete.Error(), "after 10 of 100 payload bytes") {
				t.Fatalf("broken frame: %q %v", frames(res, 0), u.Incomplete)
			}
		}},
		{name: "broken-header", kind: kindGo, mode: "brokenheader", check: func(t *testing.T, res Result) {
			u := res.Users[0]
			if !slices.Equal(frames(res, 0), []string{"whole"}) || u.Incomplete == nil ||
				!strings.Contains(u.Incomplete.Error(), "2 bytes into a 4-byte length header") {
				t.Fatalf("broken header: %q %v", frames(res, 0), u.Incomplete)
			}
		}},
		{name: "4GiB-length-header", kind: kindGo, mode: "hugeheader", check: func(t *testing.T, res Result) {
			if u := res.Users[0]; len(u.Frames) != 0 || u.Incomplete == nil {
				t.Fatalf("huge header: %d frames, %v", len(u.Frames), u.Incomplete)
			}
		}},
		{name: "exits-before-reading-stdin", kind: kindGo, mode: "earlyexit", check: func(t *testing.T, res Result) {
			if !res.StdinUnread || !res.Exit.Normal() {
				t.Fatalf("early exit: %s", res.Summary())
			}
		}},
		{name: "orphan-holds-fds", kind: kindGo, mode: "orphan", check: func(t *testing.T, res Result) {
			if !slices.Equal(frames(res, 0), []string{"orphaned"}) || !res.Exit.Normal() || res.OutputCutOff {
				t.Fatalf("orphan: %q (%s)", frames(res, 0), res.Summary())
			}
		}},
		{name: "escaped-child-holds-fds", kind: kindGo, mode: "escape", maxElapsed: drainGrace + 6*time.Second, check: func(t *testing.T, res Result) {
			if !slices.Equal(frames(res, 0), []string{"escaped"}) || !res.Exit.Normal() || !res.OutputCutOff {
				t.Fatalf("escape: %q cut off %v (%s)", frames(res, 0), res.OutputCutOff, res.Summary())
			}
		}},
		{name: "npl-flood", kind: kindGo, mode: "nplflood", limits: Limits{NPLOutputBytes: 50000}, check: func(t *testing.T, res Result) {
			if !res.Hit(LimitNPLOutput) || len(res.NPL) != 5 {
				t.Fatalf("npl flood: %d messages (%s)", len(res.NPL), res.Summary())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := newContractDir(t)
			s := baseSpec(t, tc.kind, dir, tc.mode)
			if tc.kind == kindNode {
				s.Args = []string{filepath.Join(env.testdata, "nodecontract", "faults.js"), tc.mode}
			}
			s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("x")}}
			if tc.limits.Timeout == 0 {
				tc.limits.Timeout = 30 * time.Second
			}
			if tc.maxElapsed == 0 {
				tc.maxElapsed = 25 * time.Second
			}
			s.Limits = tc.limits
			res := run(t, s)
			if res.Elapsed > tc.maxElapsed {
				t.Fatalf("took %v, limit %v (%s)", res.Elapsed, tc.maxElapsed, res.Summary())
			}
			tc.check(t, res)
			checkNextRunWorks(t, dir)
		})
	}
}

func TestNotExecutableIsAClearError(t *testing.T) {
	dir := newContractDir(t)
	noexec := filepath.Join(dir, "contract")
	os.WriteFile(noexec, []byte("#!/bin/sh\nexit 0\n"), 0o644)
	for _, bin := range []string{noexec, filepath.Join(dir, "missing"), dir} {
		s := baseSpec(t, kindGo, dir)
		s.Binary = bin
		_, err := Run(context.Background(), s)
		if !errors.Is(err, ErrNotExecutable) {
			t.Fatalf("%s: err %v, want ErrNotExecutable", bin, err)
		}
	}
	checkNextRunWorks(t, dir)
}

func TestRelativeBinaryResolvesAgainstDir(t *testing.T) {
	dir := newContractDir(t)
	b, _ := os.ReadFile(env.goContract)
	os.WriteFile(filepath.Join(dir, "contract.bin"), b, 0o755)
	s := baseSpec(t, kindGo, dir)
	s.Binary = "contract.bin"
	s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("echo:rel")}}
	if got := frames(run(t, s), 0); !slices.Equal(got, []string{"echo:rel"}) {
		t.Fatalf("frames %q", got)
	}
}

func TestInvalidSpecIsRefused(t *testing.T) {
	dir := newContractDir(t)
	for name, mut := range map[string]func(*Spec){
		"no dir":             func(s *Spec) { s.Dir = "" },
		"no binary":          func(s *Spec) { s.Binary = "" },
		"bad env":            func(s *Spec) { s.Env = []string{"NOEQUALS"} },
		"readonly two users": func(s *Spec) { s.Readonly = true; s.Users = append(s.Users, User{PublicKey: testKey(2)}) },
		"readonly no input":  func(s *Spec) { s.Readonly = true; s.Users[0].Inputs = nil },
		"duplicate user":     func(s *Spec) { s.Users = append(s.Users, s.Users[0]) },
		"empty user key":     func(s *Spec) { s.Users[0].PublicKey = "" },
		"empty unl key":      func(s *Spec) { s.UNL[0].PublicKey = "" },
		"lcl hash not hex":   func(s *Spec) { s.LCLHash = "zz" },
		"negative timeout":   func(s *Spec) { s.Limits.Timeout = -1 },
	} {
		s := baseSpec(t, kindGo, dir)
		s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("echo:x")}}
		mut(&s)
		if _, err := Run(context.Background(), s); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: err %v, want ErrInvalidSpec", name, err)
		}
	}
}

func TestCanceledContextKillsContract(t *testing.T) {
	dir := newContractDir(t)
	s := baseSpec(t, kindGo, dir, "sleep")
	s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("x")}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, s)
	if !errors.Is(err, context.DeadlineExceeded) || res.Exit.Signal != syscall.SIGKILL {
		t.Fatalf("err %v, %s", err, res.Summary())
	}
	checkNextRunWorks(t, dir)
}

func TestFramesSplitAcrossReadsAreReassembled(t *testing.T) {
	s := baseSpec(t, kindGo, newContractDir(t), "dribble")
	s.Users = []User{{PublicKey: testKey(1)}}
	res := run(t, s)
	if got := frames(res, 0); !slices.Equal(got, []string{"dribble-0", "dribble-1", "dribble-2"}) {
		t.Fatalf("frames %q (%s)", got, res.Summary())
	}
}

// TestEarlyExitWithArgumentsLargerThanThePipe: the parent's stdin writer is blocked on a full pipe
// when the contract exits without reading; Run must neither hang nor miss that stdin went unread.
func TestEarlyExitWithArgumentsLargerThanThePipe(t *testing.T) {
	dir := newContractDir(t)
	s := baseSpec(t, kindGo, dir, "earlyexit")
	for u := range 1500 {
		s.Users = append(s.Users, User{PublicKey: testKey(byte(u)) + strings.Repeat("0", u/256)})
	}
	res := run(t, s)
	if !res.StdinUnread || !res.Exit.Normal() || res.Elapsed > 10*time.Second {
		t.Fatalf("%s in %v", res.Summary(), res.Elapsed)
	}
	checkNextRunWorks(t, dir)
}
