package hpfs

import (
	"bytes"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/hpfs/hpnode/merkle"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startDaemon mounts a daemon on store (created if needed) and closes it at the end of the test.
func startDaemon(t testing.TB, store string, keep int) *Daemon {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	d, err := StartDaemon(DaemonOptions{Store: StoreOptions{Dir: store, Keep: keep, Logger: quietLog()}, MountDir: mnt})
	if err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close daemon: %v", err)
		}
	})
	return d
}

func (d *Daemon) path(parts ...string) string {
	return filepath.Join(append([]string{d.MountDir()}, parts...)...)
}

func mustBegin(t testing.TB, d *Daemon) {
	t.Helper()
	if _, err := d.BeginRW(); err != nil {
		t.Fatalf("rw begin: %v", err)
	}
}

func mustCommit(t testing.TB, d *Daemon) CommitResult {
	t.Helper()
	res, err := d.CommitRW()
	if err != nil {
		t.Fatalf("rw commit: %v", err)
	}
	return res
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkScratch asserts that hashing the view dir from scratch gives root.
func checkScratch(t testing.TB, dir string, root merkle.Hash) {
	t.Helper()
	got, err := HashDir(dir, merkle.DefaultParams())
	if err != nil {
		t.Fatalf("hash %s from scratch: %v", dir, err)
	}
	if got != root {
		t.Fatalf("from-scratch root of %s = %s, stored root %s", dir, got, root)
	}
}

func equalBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d (first diff at %d)", what, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
