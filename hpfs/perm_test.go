package hpfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// permHelperEnv makes the test binary a permission probe instead of a test run (see TestMain):
// it runs the ops listed in the variable ("op<TAB>path[<TAB>path2]" lines, paths relative to
// its working directory) and prints each one's errno (0 on success), one per line. The tests
// start it as another user, so the kernel and the daemon see a real non-root caller.
const permHelperEnv = "HPFS_PERM_PROBE_OPS"

// permDirEnv is the probe's working directory. The probe changes into it itself, after exec:
// were it exec.Cmd.Dir, the forked child would chdir into the mount before exec while sharing the
// daemon's memory (vfork) with one of its threads stopped, and a garbage collection in the
// daemon would then wait for that thread forever while the child waits for the daemon.
const permDirEnv = "HPFS_PERM_PROBE_DIR"

func TestMain(m *testing.M) {
	if ops, ok := os.LookupEnv(permHelperEnv); ok {
		if err := os.Chdir(os.Getenv(permDirEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(2)
		}
		os.Exit(permProbe(ops, os.Stdout))
	}
	os.Exit(m.Run())
}

func permProbe(ops string, out io.Writer) int {
	w := bufio.NewWriter(out)
	defer w.Flush()
	for line := range strings.Lines(ops) {
		f := strings.Split(strings.TrimSpace(line), "\t")
		if len(f) < 2 {
			fmt.Fprintf(os.Stderr, "probe: bad op line %q\n", line)
			return 2
		}
		b := ""
		if len(f) > 2 {
			b = f[2]
		}
		// An error that is not an errno (a bug in the probe) prints -1, which fails the test.
		err := probeOp(f[0], f[1], b)
		code := int(errnoOf(err))
		if err != nil && code == 0 {
			fmt.Fprintf(os.Stderr, "probe: %s %s: %v\n", f[0], f[1], err)
			code = -1
		}
		fmt.Fprintln(w, code)
	}
	return 0
}

func probeOp(op, a, b string) error {
	switch op {
	case "read":
		f, err := os.Open(a)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.Read(make([]byte, 1))
		if err == io.EOF {
			err = nil
		}
		return err
	case "write":
		f, err := os.OpenFile(a, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.Write([]byte("w"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case "rdtrunc":
		return openErr(a, os.O_RDONLY|os.O_TRUNC)
	case "create":
		return openErr(a, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	case "mkdir":
		return syscall.Mkdir(a, 0o755)
	case "unlink":
		return syscall.Unlink(a)
	case "rmdir":
		return syscall.Rmdir(a)
	case "rename":
		return syscall.Rename(a, b)
	case "symlink":
		return syscall.Symlink("target", a)
	case "list":
		_, err := os.ReadDir(a)
		return err
	case "chmod":
		return syscall.Chmod(a, 0o600)
	case "utimes":
		return unix.UtimesNanoAt(unix.AT_FDCWD, a, []unix.Timespec{{Sec: 1}, {Sec: 1}}, 0)
	case "touch": // both times set to now: write permission suffices
		now := unix.Timespec{Nsec: unix.UTIME_NOW}
		return unix.UtimesNanoAt(unix.AT_FDCWD, a, []unix.Timespec{now, now}, 0)
	case "truncate":
		return syscall.Truncate(a, 0)
	case "access":
		mode, err := strconv.Atoi(b)
		if err != nil {
			return err
		}
		return unix.Access(a, uint32(mode))
	case "exec": // execve itself: no PATH search, no user-space x-bit check
		p, err := os.StartProcess("./"+a, []string{a}, &os.ProcAttr{})
		if err != nil {
			return err
		}
		st, err := p.Wait()
		if err == nil && !st.Success() {
			err = fmt.Errorf("%s: %v", a, st)
		}
		return err
	case "chdir":
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if err := syscall.Chdir(a); err != nil {
			return err
		}
		return syscall.Chdir(wd)
	}
	return fmt.Errorf("unknown op %q", op)
}

// permOp is one probe. absent marks an operand that does not exist: a read-only filesystem
// refuses removing it with EROFS before looking, but on a view the kernel's own lookup answers
// ENOENT and never asks the daemon.
type permOp struct {
	op, a, b string
	absent   bool
}

var permOps = []permOp{
	{"read", "pub.txt", "", false},
	{"read", "secret.txt", "", false},
	{"write", "pub.txt", "", false},
	{"write", "shared.txt", "", false},
	{"rdtrunc", "pub.txt", "", false},
	{"create", "closed/new", "", false},
	{"create", "open/new", "", false},
	{"mkdir", "closed/d", "", false},
	{"mkdir", "open/d", "", false},
	{"unlink", "closed/f", "", false},
	{"unlink", "sticky/f", "", false},
	{"unlink", "sticky/missing", "", true},
	{"rename", "sticky/f", "sticky/g", false},
	{"rename", "open/x", "open/y", false},
	{"rename", "open/dd", "open2/dd", false},
	{"rename", "open/ee", "open/ee2", false},
	{"rmdir", "closed/sub", "", false},
	{"symlink", "closed/l", "", false},
	{"symlink", "open/l", "", false},
	{"read", "private/f", "", false},
	{"write", "private/f", "", false},
	{"list", "private", "", false},
	{"list", "closed", "", false},
	{"chdir", "private", "", false},
	{"chdir", "closed", "", false},
	{"chmod", "pub.txt", "", false},
	{"utimes", "pub.txt", "", false},
	{"utimes", "shared.txt", "", false},
	{"touch", "shared.txt", "", false},
	{"touch", "pub.txt", "", false},
	{"truncate", "pub.txt", "", false},
	{"truncate", "shared.txt", "", false},
	{"access", "pub.txt", "4", false},
	{"access", "pub.txt", "2", false},
	{"access", "secret.txt", "4", false},
	{"access", "exe.sh", "1", false},
	{"access", "noexe.sh", "1", false},
	{"exec", "exe.sh", "", false},
	{"exec", "closed/sub", "", false},
	{"exec", "noexe.sh", "", false},
	{"read", "blind/f", "", false},
	{"list", "blind", "", false},
}

// permTree makes the tree the probes run against, as root, with exact modes (no umask).
func permTree(t *testing.T, dir string) {
	t.Helper()
	script := []byte("#!/bin/sh\nexit 0\n")
	dirs := []struct {
		name string
		mode os.FileMode
	}{{"open", 0o777}, {"open/dd", 0o755}, {"open/ee", 0o755}, {"open2", 0o777}, {"closed", 0o755},
		{"closed/sub", 0o755}, {"private", 0o700}, {"sticky", 0o777 | os.ModeSticky}, {"blind", 0o711}}
	for _, d := range dirs {
		p := filepath.Join(dir, d.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	files := []struct {
		name string
		mode os.FileMode
		data []byte
	}{{"pub.txt", 0o644, []byte("pub")}, {"secret.txt", 0o600, []byte("secret")},
		{"shared.txt", 0o666, []byte("shared")}, {"exe.sh", 0o755, script}, {"noexe.sh", 0o744, script},
		{"open/x", 0o644, []byte("x")}, {"closed/f", 0o644, []byte("f")}, {"private/f", 0o644, []byte("f")},
		{"sticky/f", 0o666, []byte("f")}, {"blind/f", 0o644, []byte("f")}}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
}

// probeAs runs ops in dir as uid:gid (a fresh process of this test binary) and returns their
// errnos.
func probeAs(t *testing.T, helper, dir string, uid, gid uint32, ops []permOp) []syscall.Errno {
	t.Helper()
	var lines strings.Builder
	for _, o := range ops {
		fmt.Fprintf(&lines, "%s\t%s\t%s\n", o.op, o.a, o.b)
	}
	cmd := exec.Command(helper)
	cmd.Env = append(os.Environ(), permHelperEnv+"="+lines.String(), permDirEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe as %d in %s: %v: %s", uid, dir, err, stderr.String())
	}
	f := strings.Fields(string(out))
	if len(f) != len(ops) {
		t.Fatalf("probe printed %d results for %d ops: %q", len(f), len(ops), out)
	}
	res := make([]syscall.Errno, len(f))
	for i, s := range f {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("probe output %q: %v", s, err)
		}
		if v < 0 {
			t.Fatalf("probe: %s %s failed without an errno: %s", ops[i].op, ops[i].a, stderr.String())
		}
		res[i] = syscall.Errno(v)
	}
	return res
}

// permFixture is a 0755 base directory that another user can reach, holding a copy of this test
// binary (the probe), a native directory and the daemon's mount.
func permFixture(t *testing.T) (base, helper string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("permission tests run probes as uid 65534 and need root")
	}
	base, err := os.MkdirTemp("", "hpfs-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	helper = filepath.Join(base, "probe")
	if err := os.WriteFile(helper, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return base, helper
}

const nobody = 65534

// startPermDaemon mounts a daemon under base with an rw session open on the permission test tree.
func startPermDaemon(t *testing.T, base string) *Daemon {
	t.Helper()
	d, err := StartDaemon(DaemonOptions{Store: StoreOptions{Dir: t.TempDir(), Logger: quietLog()}, MountDir: filepath.Join(base, "mnt")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	mustBegin(t, d)
	permTree(t, d.path(RWView, StateDir))
	return d
}

// TestPermissionsMatchNativeDirectoryForOtherUser runs the same operations as uid 65534 on a
// native directory and on rw/state holding the same tree, and requires the same errno for each:
// the daemon enforces what the kernel's default_permissions would.
func TestPermissionsMatchNativeDirectoryForOtherUser(t *testing.T) {
	base, helper := permFixture(t)
	native := filepath.Join(base, "native")
	if err := os.Mkdir(native, 0o755); err != nil {
		t.Fatal(err)
	}
	permTree(t, native)
	d := startPermDaemon(t, base)
	rw := d.path(RWView, StateDir)
	mustCommit(t, d)
	mustBegin(t, d)

	want := probeAs(t, helper, native, nobody, nobody, permOps)
	got := probeAs(t, helper, rw, nobody, nobody, permOps)
	for i, o := range permOps {
		if got[i] != want[i] {
			t.Errorf("%s %s %s on rw/state: %v, native: %v", o.op, o.a, o.b, errName(got[i]), errName(want[i]))
		}
	}
	// The probe really ran as another user: a native directory refused it something.
	if want[1] != syscall.EACCES || want[10] != syscall.EPERM {
		t.Fatalf("native answers %v, %v: the probe did not run as an unprivileged user", want[1], want[10])
	}

	// current/ holds the committed tree (the probes' session is dropped): the answers are those
	// of a native read-only filesystem (a tmpfs holding the same tree, remounted read-only).
	if err := d.RollbackRW(); err != nil {
		t.Fatal(err)
	}
	cur := d.path(CurrentView, StateDir)
	ro := filepath.Join(base, "native-ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("hpfs-perm-test", ro, "tmpfs", 0, "size=16m,mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
	permTree(t, ro)
	if err := unix.Mount("", ro, "", unix.MS_REMOUNT|unix.MS_RDONLY, "size=16m,mode=0755"); err != nil {
		t.Fatal(err)
	}
	want = probeAs(t, helper, ro, nobody, nobody, permOps)
	got = probeAs(t, helper, cur, nobody, nobody, permOps)
	for i, o := range permOps {
		w := want[i]
		if o.absent {
			w = syscall.ENOENT
		}
		if got[i] != w {
			t.Errorf("%s %s %s on current/state: %v, want %v (native read-only: %v)", o.op, o.a, o.b, errName(got[i]), errName(w), errName(want[i]))
		}
	}
	if want[3] != syscall.EROFS {
		t.Fatalf("native read-only mount answered %v to a permitted write", errName(want[3]))
	}
}

// TestRootPassesPermissionChecksButExecBits: root reads and writes whatever the modes say, as
// natively, but cannot execute a file with no x bit.
func TestRootPassesPermissionChecksButExecBits(t *testing.T) {
	base, helper := permFixture(t)
	d := startPermDaemon(t, base)
	rw := d.path(RWView, StateDir)
	writeFile(t, filepath.Join(rw, "plain.sh"), []byte("#!/bin/sh\nexit 0\n")) // 0644: no x bit
	ops := []permOp{{op: "read", a: "secret.txt"}, {op: "write", a: "pub.txt"}, {op: "create", a: "closed/new"},
		{op: "read", a: "private/f"}, {op: "unlink", a: "sticky/f"}, {op: "chmod", a: "pub.txt"},
		{op: "exec", a: "plain.sh"}, {op: "access", a: "plain.sh", b: "1"}}
	want := []syscall.Errno{0, 0, 0, 0, 0, 0, syscall.EACCES, syscall.EACCES}
	got := probeAs(t, helper, rw, 0, 0, ops)
	for i, o := range ops {
		if got[i] != want[i] {
			t.Errorf("root %s %s: %v, want %v", o.op, o.a, errName(got[i]), errName(want[i]))
		}
	}
}

func errName(e syscall.Errno) string {
	if e == 0 {
		return "success"
	}
	return unix.ErrnoName(e)
}
