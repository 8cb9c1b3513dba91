package hpfs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

func newTestSession(t *testing.T) (*rwSession, *merkle.MemStore) {
	t.Helper()
	mem := merkle.NewMemStore()
	ed, err := merkle.NewEditor(mem, merkle.EmptyRoot(), merkle.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if err := ed.Mkdir(StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := ed.Commit()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newRWSession(mem, merkle.DefaultParams(), root, time.Unix(0, 0), &inoAlloc{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s, mem
}

func TestSessionRejectsNamesTheTreeRejects(t *testing.T) {
	s, _ := newTestSession(t)
	state, errno := s.child(s.root, StateDir)
	if errno != 0 {
		t.Fatal(errno)
	}
	long := strings.Repeat("x", 256)
	for _, name := range []string{"", ".", "..", "a/b", "nul\x00", long} {
		if _, errno := s.create(state, name, 0o644); errno != syscall.EINVAL {
			t.Errorf("create %q: %v, want EINVAL", name, errno)
		}
		if _, errno := s.mkdir(state, name, 0o755); errno != syscall.EINVAL {
			t.Errorf("mkdir %q: %v, want EINVAL", name, errno)
		}
		if _, errno := s.symlink(state, name, "t"); errno != syscall.EINVAL {
			t.Errorf("symlink %q: %v, want EINVAL", name, errno)
		}
	}
	f, errno := s.create(state, "f", 0o644)
	if errno != 0 {
		t.Fatal(errno)
	}
	_ = f
	if errno := s.rename(state, "f", state, "..", 0); errno != syscall.EINVAL {
		t.Errorf("rename to \"..\": %v, want EINVAL", errno)
	}
}

// fileModel checks fileData against a plain byte slice under random writes and truncates, with
// a small leaf size so leaf boundaries are crossed constantly.
func TestFileDataMatchesByteModel(t *testing.T) {
	const ls = 64
	mem := merkle.NewMemStore()
	sc, err := newScratch(t.TempDir(), ls)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.close()
	r := rand.New(rand.NewPCG(7, 8))
	prehashed := 0
	for round := range 200 {
		var model []byte
		f := newEmptyFile(sc)
		// Slots stay in memory, spill at once, or spill when the budget runs out mid-round.
		sc.memLimit = []uint64{maxMemBytes, 0, 500}[round%3]
		// Spills preallocate far ahead, a few leaves ahead, or exactly what they need.
		sc.reserveStep = []int64{reserveAhead, 3 * ls, 0}[round%3]
		// Start some rounds from a committed base file.
		if round%2 == 1 {
			model = randBytes(r, r.IntN(1000))
			changed := map[uint64]merkle.Hash{}
			for i := 0; i*ls < len(model); i++ {
				leaf := model[i*ls : min(len(model), (i+1)*ls)]
				h := merkle.LeafHash(leaf)
				mem.PutLeaf(h, leaf)
				changed[uint64(i)] = h
			}
			ed, _ := merkle.NewEditor(mem, merkle.EmptyRoot(), merkle.Params{LeafSize: ls})
			if err := ed.WriteFile("f", 0o644, uint64(len(model)), changed); err != nil {
				t.Fatal(err)
			}
			root, err := ed.Commit()
			if err != nil {
				t.Fatal(err)
			}
			e, err := merkle.Lookup(mem, root, "f")
			if err != nil {
				t.Fatal(err)
			}
			f = newFileData(sc, e.Hash, e.Size, ls)
		}
		for range 30 {
			switch r.IntN(3) {
			case 0, 1:
				off := r.IntN(len(model) + 200)
				data := randBytes(r, r.IntN(300))
				if err := f.write(mem, data, uint64(off), ls); err != nil {
					t.Fatal(err)
				}
				if end := off + len(data); end > len(model) {
					model = append(model, make([]byte, end-len(model))...)
				}
				copy(model[off:], data)
			case 2:
				size := r.IntN(len(model) + 200)
				if err := f.setSize(mem, uint64(size), ls); err != nil {
					t.Fatal(err)
				}
				if size < len(model) {
					model = model[:size]
				} else {
					model = append(model, make([]byte, size-len(model))...)
				}
			}
			if r.IntN(3) == 0 {
				// Let the background hashes land before the next change, so that changes
				// after a leaf was hashed are exercised, not only hashes taken at the end.
				settlePrehash(sc)
			}
			got := make([]byte, len(model)+50)
			n, err := f.read(mem, got, 0, ls)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:n], model) {
				t.Fatalf("round %d: content differs at %d (len %d vs %d)", round, firstDiff(got[:n], model), n, len(model))
			}
		}
		// Preallocation covers every spilled slot and never shows in the file's size.
		if sc.next > 0 && sc.reserved < sc.next {
			t.Fatalf("round %d: scratch reserved to %d, slots reach %d", round, sc.reserved, sc.next)
		}
		if fi, err := sc.f.Stat(); err != nil || fi.Size() > sc.next {
			t.Fatalf("round %d: scratch file size %v (%v), slots reach %d", round, fi.Size(), err, sc.next)
		}
		// What commit hashes (leaf bytes through the scratch mapping) equals the model too, and
		// so does every background hash the commit would take instead of its own.
		if err := sc.mapAll(); err != nil {
			t.Fatal(err)
		}
		sc.stopPrehash()
		for i, sl := range f.dirty {
			lb, err := f.leafBytes(i, ls, true)
			if err != nil {
				t.Fatal(err)
			}
			want := model[i*ls : min(uint64(len(model)), (i+1)*ls)]
			if !bytes.Equal(lb, want) {
				t.Fatalf("round %d: leaf %d bytes for commit differ at %d", round, i, firstDiff(lb, want))
			}
			if h, raw, ok := sl.prehashed(f.leafLen(i, ls), ls); ok {
				prehashed++
				if h != merkle.LeafHash(want) {
					t.Fatalf("round %d: leaf %d: background hash is stale", round, i)
				}
				if raw != (encodeSparse(want) == nil) {
					t.Fatalf("round %d: leaf %d: background encoding choice raw=%v is stale", round, i, raw)
				}
			}
		}
	}
	if prehashed == 0 {
		t.Fatal("no leaf was hashed in the background: the check above checked nothing")
	}
}

// TestRandomOpsMatchNativeDirectory drives the same random operations on rw/state and on a
// native directory, then checks that the commit equals the native tree hashed from scratch.
func TestRandomOpsMatchNativeDirectory(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	native := t.TempDir()
	if err := os.Mkdir(filepath.Join(native, StateDir), 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for round := range 4 {
		mustBegin(t, d)
		for i := range 150 {
			op := randomOp(r, filepath.Join(native, StateDir))
			errN := op(filepath.Join(native, StateDir))
			errF := op(d.path("rw", "state"))
			if errnoOf(errN) != errnoOf(errF) {
				t.Fatalf("round %d op %d: native %v, hpfs %v", round, i, errN, errF)
			}
		}
		res := mustCommit(t, d)
		checkScratch(t, native, res.Version.Root)
		checkScratch(t, d.path("current"), res.Version.Root)
	}
}

// randomOp picks an operation on existing names (listed from the native dir) or new ones.
func randomOp(r *rand.Rand, ref string) func(base string) error {
	var files, dirs []string
	dirs = append(dirs, ".")
	filepath.Walk(ref, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == ref {
			return nil
		}
		rel, _ := filepath.Rel(ref, p)
		if fi.IsDir() {
			dirs = append(dirs, rel)
		} else if fi.Mode().IsRegular() {
			files = append(files, rel)
		}
		return nil
	})
	sort.Strings(files)
	sort.Strings(dirs)
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	newName := func() string { return filepath.Join(pick(dirs), fmt.Sprintf("n%d", r.IntN(40))) }
	data := randBytes(r, r.IntN(200_000))
	off := int64(r.IntN(150_000))
	size := int64(r.IntN(200_000))
	mode := os.FileMode(0o600 + r.IntN(0o177))
	k := r.IntN(10)
	if len(files) == 0 && k < 6 {
		k = 6
	}
	switch k {
	case 0:
		f := pick(files)
		return func(b string) error { return pwrite(filepath.Join(b, f), data, off) }
	case 1:
		f := pick(files)
		return func(b string) error { return os.Truncate(filepath.Join(b, f), size) }
	case 2:
		f, to := pick(files), newName()
		return func(b string) error { return os.Rename(filepath.Join(b, f), filepath.Join(b, to)) }
	case 3:
		f := pick(files)
		return func(b string) error { return os.Remove(filepath.Join(b, f)) }
	case 4:
		f := pick(files)
		return func(b string) error { return os.Chmod(filepath.Join(b, f), mode) }
	case 5:
		f := pick(files)
		return func(b string) error { return appendTo(filepath.Join(b, f), data[:min(len(data), 999)]) }
	case 6, 7:
		n := newName()
		return func(b string) error { return os.WriteFile(filepath.Join(b, n), data, 0o644) }
	case 8:
		n := newName()
		return func(b string) error { return os.Mkdir(filepath.Join(b, n), 0o755) }
	default:
		dir := pick(dirs)
		if dir == "." {
			n := newName()
			return func(b string) error { return os.Symlink("target", filepath.Join(b, n)) }
		}
		to := newName()
		return func(b string) error {
			err := os.Rename(filepath.Join(b, dir), filepath.Join(b, to))
			if errnoOf(err) == syscall.EINVAL || errnoOf(err) == syscall.ENOTEMPTY || errnoOf(err) == syscall.EEXIST {
				return syscall.EINVAL // the kernel and the daemon may pick different errnos here
			}
			return err
		}
	}
}

func pwrite(path string, data []byte, off int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(data, off)
	return err
}

func appendTo(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(data)
	return err
}

// settlePrehash waits until the prehasher has hashed every queued leaf, then stops it (the next
// full leaf starts it again).
func settlePrehash(sc *scratch) {
	for sc.pre.jobs != nil && len(sc.pre.jobs) > 0 {
		time.Sleep(20 * time.Microsecond)
	}
	sc.stopPrehash()
}
