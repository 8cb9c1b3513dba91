package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
)

// hpfsdBin builds cmd/hpfsd once per test binary.
var hpfsdBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hpfsd-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hpfsd")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/hpfs/hpnode/cmd/hpfsd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build hpfsd: %v\n%s", err, out)
	}
	return bin, nil
})

type hpfsdProc struct {
	t     *testing.T
	bin   string
	store string
	mount string
	cmd   *exec.Cmd
	log   *os.File
}

func (p *hpfsdProc) socket() string { return filepath.Join(p.store, "hpfsd.sock") }

func (p *hpfsdProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "serve", "--store", p.store, "--mount", p.mount)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start hpfsd: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st hpfs.StatusInfo
		err := hpfs.Call(p.socket(), hpfs.Request{Op: hpfs.OpStatus}, &st)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("hpfsd not ready: %v (log %s)", err, p.log.Name())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *hpfsdProc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill -9: %v", err)
	}
	_ = p.cmd.Wait()
}

func (p *hpfsdProc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return p.cmd.Wait()
}

// cli runs an hpfsd client subcommand with --json and decodes its output.
func (p *hpfsdProc) cli(out any, args ...string) {
	p.t.Helper()
	cmd := exec.Command(p.bin, append(args, "--json")...)
	b, err := cmd.Output()
	if err != nil {
		p.t.Fatalf("hpfsd %v: %v (%s)", args, err, exitStderr(err))
	}
	if err := json.Unmarshal(b, out); err != nil {
		p.t.Fatalf("hpfsd %v output %q: %v", args, b, err)
	}
}

func exitStderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// TestHpfsdCrashLeavesLastCommittedVersion kills hpfsd with SIGKILL at random moments (while
// writing, during a commit, after a commit) and checks after each restart that the head is one
// of the last two committed roots, every file reads back exactly as in that version, and the
// root recomputed from scratch over the mounted files equals the stored root.
func TestHpfsdCrashLeavesLastCommittedVersion(t *testing.T) {
	bin, err := hpfsdBin()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	logf, err := os.Create(filepath.Join(work, "hpfsd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p := &hpfsdProc{t: t, bin: bin, store: filepath.Join(work, "store"), mount: filepath.Join(work, "mnt"), log: logf}
	committed := filepath.Join(work, "model-committed")
	pending := filepath.Join(work, "model-pending")
	if err := os.MkdirAll(filepath.Join(committed, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	p.start()
	defer func() {
		if p.cmd.ProcessState == nil {
			if err := p.stop(); err != nil {
				t.Errorf("SIGTERM stop: %v", err)
			}
		}
	}()
	r := rand.New(rand.NewPCG(2026, 11))
	const loops = 24
	var outcomes [3][2]int // [mode][0: old root, 1: new root]
	for loop := range loops {
		copyTree(t, committed, pending)
		p.cli(&hpfs.VersionInfo{}, "rw", "begin", "--store", p.store)
		ops := randomBatch(r, 5+r.IntN(20))
		mode := r.IntN(3)
		switch mode {
		case 0: // kill while the batch is being written
			done := make(chan struct{})
			go func() {
				defer close(done)
				for _, op := range ops {
					if op(filepath.Join(p.mount, "rw", "state")) != nil {
						return
					}
				}
			}()
			time.Sleep(time.Duration(r.IntN(15_000)) * time.Microsecond)
			p.kill9()
			<-done
		case 1, 2: // finish the batch, then kill during or after the commit
			for i, op := range ops {
				if err := op(filepath.Join(p.mount, "rw", "state")); err != nil {
					t.Fatalf("loop %d op %d on hpfs: %v", loop, i, err)
				}
				if err := op(filepath.Join(pending, "state")); err != nil {
					t.Fatalf("loop %d op %d on model: %v", loop, i, err)
				}
			}
			if mode == 1 {
				done := make(chan struct{})
				go func() {
					defer close(done)
					_ = hpfs.Call(p.socket(), hpfs.Request{Op: hpfs.OpRWCommit}, nil)
				}()
				time.Sleep(time.Duration(r.IntN(40_000)) * time.Microsecond)
				p.kill9()
				<-done
			} else {
				p.cli(&hpfs.CommitInfo{}, "rw", "commit", "--store", p.store)
				p.kill9()
			}
		}
		p.start()
		var h hpfs.HashInfo
		p.cli(&h, "hash", "--store", p.store)
		oldRoot := scratchRoot(t, committed)
		newRoot := scratchRoot(t, pending)
		switch h.Root {
		case oldRoot.String():
			if mode == 2 {
				t.Fatalf("loop %d: acknowledged commit %s lost; head is %s", loop, newRoot, h.Root)
			}
			outcomes[mode][0]++
		case newRoot.String():
			if mode == 0 {
				t.Fatalf("loop %d: uncommitted writes became head %s", loop, h.Root)
			}
			copyTree(t, pending, committed)
			outcomes[mode][1]++
		default:
			t.Fatalf("loop %d (mode %d): head %s is neither last committed %s nor in-flight %s", loop, mode, h.Root, oldRoot, newRoot)
		}
		compareTrees(t, committed, filepath.Join(p.mount, "current"))
		var scratch struct{ Root string }
		p.cli(&scratch, "hash", "--dir", filepath.Join(p.mount, "current"))
		if scratch.Root != h.Root {
			t.Fatalf("loop %d: root from scratch over current/ %s, stored %s", loop, scratch.Root, h.Root)
		}
	}
	t.Logf("outcomes (old root, new root): killed while writing %v, during commit %v, after commit %v",
		outcomes[0], outcomes[1], outcomes[2])
	if err := p.stop(); err != nil {
		t.Fatalf("SIGTERM stop: %v", err)
	}
	if b, _ := os.ReadFile("/proc/self/mounts"); bytes.Contains(b, []byte(p.mount+" ")) {
		t.Fatalf("mount %s still present after SIGTERM", p.mount)
	}
}

func scratchRoot(t *testing.T, dir string) merkle.Hash {
	t.Helper()
	h, err := hpfs.HashDir(dir, merkle.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// randomBatch returns file operations, each applied to a state dir (the mount or the model).
// Names are drawn from a small set so later ops hit earlier files; an op on a missing name is a
// no-op on both sides.
func randomBatch(r *rand.Rand, n int) []func(dir string) error {
	var ops []func(string) error
	for range n {
		name := fmt.Sprintf("f%d", r.IntN(12))
		sub := fmt.Sprintf("d%d", r.IntN(3))
		data := make([]byte, r.IntN(300_000))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		off := int64(r.IntN(200_000))
		size := int64(r.IntN(250_000))
		other := fmt.Sprintf("f%d", r.IntN(12))
		switch r.IntN(6) {
		case 0, 1:
			ops = append(ops, func(d string) error { return os.WriteFile(filepath.Join(d, name), data, 0o644) })
		case 2:
			ops = append(ops, func(d string) error {
				f, err := os.OpenFile(filepath.Join(d, name), os.O_WRONLY, 0)
				if errors.Is(err, os.ErrNotExist) {
					return nil
				}
				if err != nil {
					return err
				}
				_, err = f.WriteAt(data[:min(len(data), 5000)], off)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				return err
			})
		case 3:
			ops = append(ops, func(d string) error { return ignoreMissing(os.Truncate(filepath.Join(d, name), size)) })
		case 4:
			ops = append(ops, func(d string) error { return ignoreMissing(os.Rename(filepath.Join(d, name), filepath.Join(d, other))) })
		case 5:
			ops = append(ops, func(d string) error {
				if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(d, sub, name), data[:min(len(data), 10_000)], 0o600)
			})
		}
	}
	return ops
}

func ignoreMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// copyTree replaces dst with a copy of src (regular files and dirs only).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if de.IsDir() {
			return os.MkdirAll(target, fi.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compareTrees checks that got holds exactly want's names, kinds, modes and bytes.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	list := func(root string) map[string]string {
		m := map[string]string{}
		err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			fi, err := de.Info()
			if err != nil {
				return err
			}
			desc := fmt.Sprintf("%v", fi.Mode())
			if fi.Mode().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				desc += fmt.Sprintf(" %d %x", len(b), hashBytes(b))
			}
			m[rel] = desc
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
		return m
	}
	w, g := list(want), list(got)
	var diffs []string
	for k, v := range w {
		if g[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: want %q got %q", k, v, g[k]))
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected", k))
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
}

func hashBytes(b []byte) [32]byte { return merkle.LeafHash(b) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
