package hpfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hpfs/hpnode/merkle"
)

// The rw tree (and so the kernel's dentries, attributes and pages under rw/) is kept from one
// session to the next; these tests catch a stale name, size or page after commit, rollback or
// a head that moved.

// TestPlainMountStartsEverySessionFresh runs the session round trips of this file on a mount
// without expire-only notifications (a non-root daemon's): correct, just without kept inodes.
func TestPlainMountStartsEverySessionFresh(t *testing.T) {
	d, err := StartDaemon(DaemonOptions{Store: StoreOptions{Dir: t.TempDir(), Logger: quietLog()},
		MountDir: filepath.Join(t.TempDir(), "mnt"), PlainMount: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.conn != nil {
		t.Fatal("plain mount has the daemon's own connection")
	}
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("one"))
	mustCommit(t, d)
	mustBegin(t, d)
	equalBytes(t, "f in session 2", readFile(t, d.path("rw", "state", "f")), []byte("one"))
	writeFile(t, d.path("rw", "state", "f"), []byte("changed"))
	if err := d.RollbackRW(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path("rw")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rw/ between sessions: %v, want not exist", err)
	}
	mustBegin(t, d)
	equalBytes(t, "f after rollback", readFile(t, d.path("rw", "state", "f")), []byte("one"))
	writeFile(t, d.path("rw", "state", "f"), []byte("two!!"))
	mustCommit(t, d)
	mustBegin(t, d)
	equalBytes(t, "f in session 4", readFile(t, d.path("rw", "state", "f")), []byte("two!!"))
}

// TestOwnMountKeepsTreeAcrossCommit checks that the kept-tree path is the one the other tests
// of this file exercise (root, kernel 6.2+): otherwise they would pass on the fallback alone.
func TestOwnMountKeepsTreeAcrossCommit(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	if d.conn == nil {
		t.Fatal("the daemon has no connection of its own (needs root and kernel 6.2+)")
	}
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("one"))
	ino := func() uint64 {
		var st syscall.Stat_t
		if err := syscall.Stat(d.path("rw", "state", "f"), &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	before := ino()
	mustCommit(t, d)
	mustBegin(t, d)
	if after := ino(); after != before {
		t.Fatalf("inode of an unchanged file moved across commit: %d -> %d", before, after)
	}
}

func statSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return fi.Size()
}

func TestKeptTreeShowsCommittedContentInNextSession(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("one"))
	if err := os.Mkdir(d.path("rw", "state", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, d.path("rw", "state", "dir", "g"), []byte("gee"))
	mustCommit(t, d)
	mustBegin(t, d)
	equalBytes(t, "f in session 2", readFile(t, d.path("rw", "state", "f")), []byte("one"))
	writeFile(t, d.path("rw", "state", "f"), []byte("two!!"))
	writeFile(t, d.path("rw", "state", "dir", "h"), []byte("aitch"))
	res := mustCommit(t, d)
	checkScratch(t, d.path("current"), res.Version.Root)
	mustBegin(t, d)
	if got := statSize(t, d.path("rw", "state", "f")); got != 5 {
		t.Fatalf("size of f in session 3 = %d, want 5", got)
	}
	equalBytes(t, "f in session 3", readFile(t, d.path("rw", "state", "f")), []byte("two!!"))
	equalBytes(t, "dir/g in session 3", readFile(t, d.path("rw", "state", "dir", "g")), []byte("gee"))
	equalBytes(t, "dir/h in session 3", readFile(t, d.path("rw", "state", "dir", "h")), []byte("aitch"))
	checkScratch(t, d.path("rw"), res.Version.Root)
}

func TestRollbackAfterKeptTreeShowsCommittedContent(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("one"))
	writeFile(t, d.path("rw", "state", "g"), []byte("keep"))
	res := mustCommit(t, d)
	mustBegin(t, d)
	// Cache f's name, attributes and page in the kernel, then change everything.
	equalBytes(t, "f before", readFile(t, d.path("rw", "state", "f")), []byte("one"))
	writeFile(t, d.path("rw", "state", "f"), []byte("changed content"))
	if err := os.Remove(d.path("rw", "state", "g")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, d.path("rw", "state", "h"), []byte("new"))
	if err := os.Chmod(d.path("rw", "state", "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.RollbackRW(); err != nil {
		t.Fatal(err)
	}
	mustBegin(t, d)
	fi, err := os.Stat(d.path("rw", "state", "f"))
	if err != nil || fi.Size() != 3 || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat f after rollback = %v, %v; want 3 bytes, mode 0644", fi, err)
	}
	equalBytes(t, "f after rollback", readFile(t, d.path("rw", "state", "f")), []byte("one"))
	equalBytes(t, "g after rollback", readFile(t, d.path("rw", "state", "g")), []byte("keep"))
	if _, err := os.Stat(d.path("rw", "state", "h")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("h after rollback: %v, want not exist", err)
	}
	checkScratch(t, d.path("rw"), res.Version.Root)
}

func TestUnchangedRollbackKeepsTreeAndRWIsGoneBetweenSessions(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("one"))
	mustCommit(t, d)
	mustBegin(t, d)
	equalBytes(t, "f", readFile(t, d.path("rw", "state", "f")), []byte("one"))
	if err := d.RollbackRW(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path("rw")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rw/ between sessions: %v, want not exist", err)
	}
	if _, err := os.Stat(d.path("rw", "state", "f")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rw/state/f between sessions: %v, want not exist", err)
	}
	mustBegin(t, d)
	equalBytes(t, "f in next session", readFile(t, d.path("rw", "state", "f")), []byte("one"))
}

func TestCurrentShowsNewContentRightAfterCommit(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("one"))
	mustCommit(t, d)
	equalBytes(t, "current f", readFile(t, d.path("current", "state", "f")), []byte("one"))
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("second"))
	writeFile(t, d.path("rw", "state", "g"), []byte("gee"))
	mustCommit(t, d)
	if got := statSize(t, d.path("current", "state", "f")); got != 6 {
		t.Fatalf("size of current f = %d, want 6", got)
	}
	equalBytes(t, "current f after commit", readFile(t, d.path("current", "state", "f")), []byte("second"))
	equalBytes(t, "current g after commit", readFile(t, d.path("current", "state", "g")), []byte("gee"))
}

// A version committed by another path (a sync) moves the head under the kept tree: the next
// session must show the new head, not the kept tree.
func TestHeadMovedUnderKeptTreeStartsFreshTree(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("one"))
	mustCommit(t, d)
	mustBegin(t, d)
	equalBytes(t, "f", readFile(t, d.path("rw", "state", "f")), []byte("one"))
	if err := d.RollbackRW(); err != nil {
		t.Fatal(err)
	}
	st := d.Store()
	ov := NewOverlay(st)
	ed, err := merkle.NewEditor(ov, st.Head().Root, st.Params())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("other!")
	h := merkle.LeafHash(data)
	if err := ov.PutLeaf(h, data); err != nil {
		t.Fatal(err)
	}
	if err := ed.WriteFile("state/f", 0o644, uint64(len(data)), map[uint64]merkle.Hash{0: h}); err != nil {
		t.Fatal(err)
	}
	root, err := ed.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(root, ov); err != nil {
		t.Fatal(err)
	}
	mustBegin(t, d)
	if got := statSize(t, d.path("rw", "state", "f")); got != 6 {
		t.Fatalf("size of f on the moved head = %d, want 6", got)
	}
	equalBytes(t, "f on the moved head", readFile(t, d.path("rw", "state", "f")), data)
}

// A file unlinked while open has lost its bytes when its session ends, even though the tree
// (and the kernel inode behind the descriptor) lives on.
func TestUnlinkedOpenFileIsStaleInNextSession(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	f, err := os.OpenFile(d.path("rw", "state", "tmp"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("scratch")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d.path("rw", "state", "tmp")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("still open"), 0); err != nil {
		t.Fatalf("write to unlinked open file in its session: %v", err)
	}
	mustCommit(t, d)
	mustBegin(t, d)
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("write to a file unlinked in an ended session: %v, want ESTALE", err)
	}
	if _, err := os.Stat(d.path("rw", "state", "tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unlinked file visible: %v", err)
	}
}

// Small writes into leaves that are mostly zero in the base version: the commit assembles those
// leaves from the few ranges written (the base leaf's non-zero runs and the new bytes), and a
// shrink or grow in between must not expose stale bytes.
func TestSmallWritesIntoSparseBaseLeavesCommitExactly(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	const ls = 64 << 10
	want := make([]byte, 3*ls+100)
	for _, off := range []int{10, 5000, ls + 7, 2*ls + 60000, 3*ls + 50} {
		copy(want[off:], "base-bytes")
	}
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "sparse"), want)
	mustCommit(t, d)
	for round := range 3 {
		mustBegin(t, d)
		f, err := os.OpenFile(d.path("rw", "state", "sparse"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range []int{20 + round, ls + 3000*round, 2*ls + 1} {
			if _, err := f.WriteAt([]byte("new"), int64(off)); err != nil {
				t.Fatal(err)
			}
			copy(want[off:], "new")
		}
		if round == 1 {
			// Shrink into leaf 1 and grow back: the cut bytes must read as zero.
			if err := f.Truncate(ls + 2); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(int64(len(want))); err != nil {
				t.Fatal(err)
			}
			clear(want[ls+2:])
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		res := mustCommit(t, d)
		equalBytes(t, "current after round", readFile(t, d.path("current", "state", "sparse")), want)
		checkScratch(t, d.path("current"), res.Version.Root)
	}
}
