package hpfs

import (
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestUtimensFsyncStatfsAndEndedSession(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, d)
	p := d.path("rw", "state", "f")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ab", "cd"} {
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync in an open session: %v", err)
	}
	equalBytes(t, "O_APPEND writes", readFile(t, p), []byte("abcd"))

	// utimens takes effect for the session (timestamps are not part of the committed state).
	when := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatalf("utimens: %v", err)
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.ModTime().Equal(when) {
		t.Fatalf("mtime after utimens = %v (%v), want %v", fi.ModTime(), err, when)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(d.path("rw", "state"), &st); err != nil || st.Blocks == 0 || st.Namelen != 255 {
		t.Fatalf("statfs = %+v, %v", st, err)
	}
	res := mustCommit(t, d)
	fi, err = os.Stat(d.path("current", "state", "f"))
	if err != nil || !fi.ModTime().Equal(res.Version.Time) {
		t.Fatalf("committed mtime %v (%v), want the version time %v", fi.ModTime(), err, res.Version.Time)
	}
	// The fd outlived its session: fsync and writes must fail, not pretend.
	if err := f.Sync(); errnoOf(err) != syscall.ESTALE {
		t.Fatalf("fsync after the session ended: %v, want ESTALE", err)
	}
	if _, err := f.WriteString("late"); errnoOf(err) != syscall.ESTALE {
		t.Fatalf("write after the session ended: %v, want ESTALE", err)
	}
	f.Close()
	equalBytes(t, "committed f", readFile(t, d.path("current", "state", "f")), []byte("abcd"))
	if _, err := unix.Listxattr(d.path("current", "state", "f"), make([]byte, 64)); errnoOf(err) != syscall.ENOTSUP {
		t.Fatalf("listxattr: %v, want ENOTSUP", err)
	}
}
