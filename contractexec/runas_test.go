package contractexec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestRunAs runs the contract and post_exec.sh as nobody (65534:65534). Changing user needs root:
// as any other user the same call must fail cleanly with ErrStart (EPERM), which is checked instead.
func TestRunAs(t *testing.T) {
	dir := newContractDir(t)
	for _, d := range []string{filepath.Dir(filepath.Dir(dir)), filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	s := baseSpec(t, kindGo, dir, "whoami")
	s.RunAs = nobody
	s.Users = []User{{PublicKey: testKey(1)}}
	res, err := Run(context.Background(), s)
	if os.Getuid() != 0 {
		if !errors.Is(err, ErrStart) {
			t.Fatalf("as uid %d: err %v, want ErrStart", os.Getuid(), err)
		}
		return
	}
	if err != nil || !slices.Equal(frames(res, 0), []string{"65534:65534"}) {
		t.Fatalf("err %v frames %q (%s)", err, frames(res, 0), res.Summary())
	}
	os.WriteFile(filepath.Join(dir, PostExecScript), []byte("#!/bin/sh\nid -u > whoami.out\nexit 4\n"), 0o755)
	out, err := RunPostExecAs(context.Background(), nobody, dir, 1, "00", 10*time.Second)
	if out != PostExecKept || err != nil {
		t.Fatalf("post_exec as nobody: %v %v", out, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "whoami.out")); string(b) != "65534\n" {
		t.Fatalf("post_exec.sh ran as %q", b)
	}
}
