package hpfs

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCommitShowsInCurrentAndMatchesScratchHash(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	r := rand.New(rand.NewPCG(1, 2))
	big := randBytes(r, 300_000)
	writeFile(t, d.path("rw", "state", "a.txt"), []byte("hello"))
	if err := os.MkdirAll(d.path("rw", "state", "x", "y"), 0o750); err != nil {
		t.Fatal(err)
	}
	writeFile(t, d.path("rw", "state", "x", "y", "big"), big)
	if err := os.Symlink("../a.txt", d.path("rw", "state", "x", "link")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, d.path("rw", "patch.cfg"), []byte(`{"version":"1"}`))
	res := mustCommit(t, d)
	if _, err := os.Stat(d.path("rw")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rw/ after commit: %v, want not exist", err)
	}
	equalBytes(t, "current big", readFile(t, d.path("current", "state", "x", "y", "big")), big)
	equalBytes(t, "current a.txt", readFile(t, d.path("current", "state", "a.txt")), []byte("hello"))
	if tgt, err := os.Readlink(d.path("current", "state", "x", "link")); err != nil || tgt != "../a.txt" {
		t.Fatalf("readlink = %q, %v", tgt, err)
	}
	if fi, err := os.Stat(d.path("current", "state", "x")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("stat x = %v, %v; want mode 0750", fi, err)
	}
	checkScratch(t, d.path("current"), res.Version.Root)
	if res.PatchHash.IsZero() || res.StateHash.IsZero() {
		t.Fatalf("commit result hashes empty: %+v", res)
	}
}

func TestRollbackDiscardsEverything(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	head := d.Store().Head()
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("x"))
	if err := d.RollbackRW(); err != nil {
		t.Fatal(err)
	}
	if d.Store().Head() != head {
		t.Fatalf("head moved on rollback")
	}
	if _, err := os.Stat(d.path("current", "state", "f")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rolled-back file visible: %v", err)
	}
	mustBegin(t, d)
	if _, err := os.Stat(d.path("rw", "state", "f")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rolled-back file visible in next session: %v", err)
	}
}

// HotPocket bug B1: a shrinking truncate kept the old hash of the new last block.
func TestShrinkTruncateRehashesLastLeaf(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	r := rand.New(rand.NewPCG(3, 4))
	data := randBytes(r, 10<<20)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), data)
	mustCommit(t, d)
	for _, size := range []int64{5<<20 + 12345, 5 << 20, 70_000, 1, 0} {
		mustBegin(t, d)
		if err := os.Truncate(d.path("rw", "state", "f"), size); err != nil {
			t.Fatal(err)
		}
		res := mustCommit(t, d)
		equalBytes(t, "after shrink", readFile(t, d.path("current", "state", "f")), data[:size])
		checkScratch(t, d.path("current"), res.Version.Root)
	}
	// Shrink then grow in one session: the regrown bytes read as zeros, not the old data.
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "g"), data[:200_000])
	mustCommit(t, d)
	mustBegin(t, d)
	p := d.path("rw", "state", "g")
	if err := os.Truncate(p, 70_000); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 180_000); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, data[:70_000]...), make([]byte, 110_000)...)
	equalBytes(t, "shrink+grow in rw", readFile(t, p), want)
	res := mustCommit(t, d)
	equalBytes(t, "shrink+grow committed", readFile(t, d.path("current", "state", "g")), want)
	checkScratch(t, d.path("current"), res.Version.Root)
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

func TestReadOnlyViewsRefuseWritesWithEROFS(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("data"))
	if err := os.Mkdir(d.path("rw", "state", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, d)
	if _, err := d.OpenRO("snap", nil); err != nil {
		t.Fatal(err)
	}
	for _, view := range []string{"current", "snap"} {
		st := d.path(view, "state")
		cases := map[string]error{
			"create":   os.WriteFile(filepath.Join(st, "new"), nil, 0o644),
			"open rw":  openErr(filepath.Join(st, "f"), os.O_RDWR),
			"truncate": os.Truncate(filepath.Join(st, "f"), 0),
			"mkdir":    os.Mkdir(filepath.Join(st, "d2"), 0o755),
			"unlink":   os.Remove(filepath.Join(st, "f")),
			"rmdir":    syscall.Rmdir(filepath.Join(st, "dir")),
			"chmod":    os.Chmod(filepath.Join(st, "f"), 0o600),
			"rename":   os.Rename(filepath.Join(st, "f"), filepath.Join(st, "g")),
			"symlink":  os.Symlink("f", filepath.Join(st, "l")),
		}
		for name, err := range cases {
			if errnoOf(err) != syscall.EROFS {
				t.Errorf("%s in %s: %v, want EROFS", name, view, err)
			}
		}
		equalBytes(t, view+" f", readFile(t, filepath.Join(st, "f")), []byte("data"))
	}
	if err := os.Mkdir(d.path("newview"), 0o755); errnoOf(err) != syscall.EROFS {
		t.Errorf("mkdir in mount root: %v, want EROFS", err)
	}
}

func openErr(path string, flag int) error {
	f, err := os.OpenFile(path, flag, 0)
	if err == nil {
		f.Close()
	}
	return err
}

func TestUnsupportedOperationsReturnHonestErrnos(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	st := d.path("rw", "state")
	writeFile(t, filepath.Join(st, "f"), []byte("x"))
	cases := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"hard link", os.Link(filepath.Join(st, "f"), filepath.Join(st, "h")), syscall.EPERM},
		{"mkfifo", syscall.Mkfifo(filepath.Join(st, "fifo"), 0o644), syscall.EPERM},
		{"mknod char", syscall.Mknod(filepath.Join(st, "dev"), syscall.S_IFCHR|0o644, 0x0101), syscall.EPERM},
		{"setxattr", unix.Setxattr(filepath.Join(st, "f"), "user.a", []byte("v"), 0), syscall.ENOTSUP},
		{"getxattr", getxattr(filepath.Join(st, "f")), syscall.ENOTSUP},
		{"chown", os.Chown(filepath.Join(st, "f"), 1234, 1234), syscall.EPERM},
		{"rename whiteout", unix.Renameat2(unix.AT_FDCWD, filepath.Join(st, "f"), unix.AT_FDCWD, filepath.Join(st, "w"), unix.RENAME_WHITEOUT), syscall.EINVAL},
		{"create at tree root", os.WriteFile(d.path("rw", "other"), nil, 0o644), syscall.EPERM},
		{"remove state", syscall.Rmdir(d.path("rw", "state")), syscall.EPERM},
	}
	for _, c := range cases {
		if errnoOf(c.err) != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(st, "h")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused hard link exists: %v", err)
	}
}

func getxattr(path string) error {
	_, err := unix.Getxattr(path, "user.a", make([]byte, 64))
	return err
}

func TestRenameNoReplaceAndExchange(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	st := d.path("rw", "state")
	writeFile(t, filepath.Join(st, "a"), []byte("AAA"))
	if err := os.Mkdir(filepath.Join(st, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(st, "b", "inner"), []byte("in"))
	mustCommit(t, d)
	mustBegin(t, d)
	a, b := filepath.Join(st, "a"), filepath.Join(st, "b")
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_NOREPLACE); errnoOf(err) != syscall.EEXIST {
		t.Fatalf("RENAME_NOREPLACE onto existing: %v, want EEXIST", err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		t.Fatalf("RENAME_EXCHANGE: %v", err)
	}
	equalBytes(t, "b after exchange", readFile(t, b), []byte("AAA"))
	equalBytes(t, "a/inner after exchange", readFile(t, filepath.Join(a, "inner")), []byte("in"))
	if err := os.Rename(b, filepath.Join(a, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a, filepath.Join(a, "sub")); errnoOf(err) != syscall.EINVAL {
		t.Fatalf("rename dir into itself: %v, want EINVAL", err)
	}
	writeFile(t, filepath.Join(st, "c"), []byte("C"))
	if err := os.Rename(filepath.Join(st, "c"), filepath.Join(a, "inner")); err != nil {
		t.Fatalf("rename over file: %v", err)
	}
	res := mustCommit(t, d)
	equalBytes(t, "committed a/inner", readFile(t, d.path("current", "state", "a", "inner")), []byte("C"))
	equalBytes(t, "committed a/moved", readFile(t, d.path("current", "state", "a", "moved")), []byte("AAA"))
	checkScratch(t, d.path("current"), res.Version.Root)
}

func TestSessionControlErrors(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	if _, err := d.CommitRW(); !errors.Is(err, ErrNoSession) {
		t.Errorf("commit without session: %v, want ErrNoSession", err)
	}
	if err := d.RollbackRW(); !errors.Is(err, ErrNoSession) {
		t.Errorf("rollback without session: %v, want ErrNoSession", err)
	}
	mustBegin(t, d)
	if _, err := d.BeginRW(); !errors.Is(err, ErrSessionOpen) {
		t.Errorf("second begin: %v, want ErrSessionOpen", err)
	}
	for _, name := range []string{"current", "rw", "", "a/b", ".."} {
		if _, err := d.OpenRO(name, nil); !errors.Is(err, ErrBadName) {
			t.Errorf("ro open %q: %v, want ErrBadName", name, err)
		}
	}
	if _, err := d.OpenRO("s", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenRO("s", nil); !errors.Is(err, ErrNameInUse) {
		t.Errorf("ro open twice: %v, want ErrNameInUse", err)
	}
	if err := d.CloseRO("nope"); !errors.Is(err, ErrNoSuchSession) {
		t.Errorf("ro close unknown: %v, want ErrNoSuchSession", err)
	}
	bogus := d.Store().Head().Root
	bogus[0] ^= 1
	if _, err := d.OpenRO("t", &bogus); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("ro open unknown version: %v, want ErrUnknownVersion", err)
	}
}

func TestSecondDaemonOnStoreFailsClearly(t *testing.T) {
	store := t.TempDir()
	startDaemon(t, store, 0)
	_, err := OpenStore(StoreOptions{Dir: store, Logger: quietLog()})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestRestartKeepsHeadAndReadOnlySessionSeesOldVersion(t *testing.T) {
	store := t.TempDir()
	d := startDaemon(t, store, 0)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("one"))
	v1 := mustCommit(t, d)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), []byte("two!"))
	v2 := mustCommit(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, store, 0)
	if d.Store().Head().Root != v2.Version.Root {
		t.Fatalf("head after restart %s, want %s", d.Store().Head().Root, v2.Version.Root)
	}
	equalBytes(t, "current f", readFile(t, d.path("current", "state", "f")), []byte("two!"))
	if _, err := d.OpenRO("old", &v1.Version.Root); err != nil {
		t.Fatal(err)
	}
	equalBytes(t, "old f", readFile(t, d.path("old", "state", "f")), []byte("one"))
	if err := d.CloseRO("old"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path("old")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("closed ro session still visible: %v", err)
	}
}
