package merkle

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// changedLeaves returns the leaves of newData that differ from oldData, stored in s.
func changedLeaves(t testing.TB, s NodeStore, oldData, newData []byte, leafSize int) map[uint64]Hash {
	all := leafHashes(t, s, newData, leafSize)
	for i := range all {
		off := int(i) * leafSize
		o := oldData[min(off, len(oldData)):min(off+leafSize, len(oldData))]
		n := newData[off:min(off+leafSize, len(newData))]
		if bytes.Equal(o, n) {
			delete(all, i)
		}
	}
	return all
}

// randomEdit applies one random edit to both the editor and the model.
func randomEdit(t *testing.T, r *rand.Rand, e *Editor, s NodeStore, m *model, leafSize int) string {
	paths := m.paths("", nil)
	dirs := []string{""}
	for _, p := range paths {
		if _, _, k := m.at(p); k.kind == KindDir {
			dirs = append(dirs, p)
		}
	}
	pick := func() string { return paths[r.IntN(len(paths))] }
	dirModel := func(p string) *model {
		if p == "" {
			return m
		}
		_, _, k := m.at(p)
		return k
	}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	switch op := r.IntN(9); {
	case op <= 1 || len(paths) == 0: // create a file
		d := dirs[r.IntN(len(dirs))]
		name := randName(r)
		if _, ok := dirModel(d).kids[name]; ok {
			return "noop"
		}
		data := randData(r, 5*leafSize)
		check(e.WriteFile(joinPath(d, name), 0o640, uint64(len(data)), leafHashes(t, s, data, leafSize)))
		dirModel(d).kids[name] = &model{kind: KindFile, mode: 0o640, data: data}
		return "create " + joinPath(d, name)
	case op == 2: // mkdir
		d := dirs[r.IntN(len(dirs))]
		name := randName(r)
		if _, ok := dirModel(d).kids[name]; ok {
			return "noop"
		}
		check(e.Mkdir(joinPath(d, name), 0o700))
		dirModel(d).kids[name] = newDirModel(0o700)
		return "mkdir " + joinPath(d, name)
	case op == 3: // remove
		p := pick()
		check(e.Remove(p))
		par, name, _ := m.at(p)
		delete(par.kids, name)
		return "remove " + p
	case op == 4: // rename to a fresh name in a random directory
		p := pick()
		d := dirs[r.IntN(len(dirs))]
		to := joinPath(d, randName(r))
		if d == p || len(d) > len(p) && d[:len(p)+1] == p+"/" {
			return "noop"
		}
		if _, ok := dirModel(d).kids[to[len(to)-len(lastName(to)):]]; ok {
			return "noop"
		}
		check(e.Rename(p, to))
		par, name, k := m.at(p)
		delete(par.kids, name)
		dirModel(d).kids[lastName(to)] = k
		return "rename " + p + " " + to
	case op == 5: // chmod
		p := pick()
		_, _, k := m.at(p)
		if k.kind == KindSymlink {
			return "noop"
		}
		check(e.Chmod(p, 0o600))
		k.mode = 0o600
		return "chmod " + p
	default: // overwrite part of a file, maybe resizing it
		p := pick()
		_, _, k := m.at(p)
		if k.kind != KindFile {
			return "noop"
		}
		nd := append([]byte(nil), k.data...)
		switch r.IntN(3) {
		case 0:
			nd = nd[:r.IntN(len(nd)+1)]
		case 1:
			nd = append(nd, randData(r, 3*leafSize)...)
		}
		if len(nd) > 0 {
			nd[r.IntN(len(nd))] ^= 1
		}
		check(e.WriteFile(p, k.mode, uint64(len(nd)), changedLeaves(t, s, k.data, nd, leafSize)))
		k.data = nd
		return fmt.Sprintf("write %s %d", p, len(nd))
	}
}

func lastName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func TestIncrementalRootEqualsScratchRoot(t *testing.T) {
	const leafSize = 4
	for seed := range uint64(12) {
		r := rand.New(rand.NewPCG(seed, 99))
		m := randModel(r, 150, 20)
		s := NewMemStore()
		e, _ := NewEditor(s, EmptyRoot(), Params{LeafSize: leafSize})
		writeModel(t, e, s, "", m, leafSize)
		mustCommit(t, e)
		var log []string
		for step := range 120 {
			log = append(log, randomEdit(t, r, e, s, m, leafSize))
			if r.IntN(4) != 0 && step != 119 {
				continue
			}
			got := mustCommit(t, e)
			if want := scratchHash(t, NewMemStore(), m, leafSize); got != want {
				t.Fatalf("seed %d step %d: incremental %s != scratch %s after %q", seed, step, got, want, log[max(0, len(log)-8):])
			}
			// A fresh editor on the committed root sees the same tree.
			if e2, err := NewEditor(s, got, Params{LeafSize: leafSize}); err != nil || mustCommit(t, e2) != got {
				t.Fatalf("reopen: %v", err)
			}
		}
	}
}

func TestLargeDirectoryInsertDelete(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	s := NewMemStore()
	e, _ := NewEditor(s, EmptyRoot(), Params{LeafSize: 4})
	m := newDirModel(RootMode)
	add := func(name string) {
		if _, ok := m.kids[name]; ok {
			return
		}
		if err := e.Symlink(name, "t"); err != nil {
			t.Fatal(err)
		}
		m.kids[name] = &model{kind: KindSymlink, mode: SymlinkMode, target: "t"}
	}
	for i := range 5000 {
		add(fmt.Sprintf("n%05d", i))
	}
	mustCommit(t, e)
	for round := range 40 {
		for range 1 + r.IntN(20) {
			if r.IntN(2) == 0 {
				add(fmt.Sprintf("n%05d", r.IntN(6000)))
			} else {
				name := fmt.Sprintf("n%05d", r.IntN(6000))
				if _, ok := m.kids[name]; ok {
					if err := e.Remove(name); err != nil {
						t.Fatal(err)
					}
					delete(m.kids, name)
				}
			}
		}
		got := mustCommit(t, e)
		if want := scratchHash(t, NewMemStore(), m, 4); got != want {
			t.Fatalf("round %d: incremental %s != scratch %s", round, got, want)
		}
		root, _ := Lookup(s, got, "")
		if root.Size != uint64(len(m.kids)) {
			t.Fatalf("root size %d, want %d", root.Size, len(m.kids))
		}
	}
	// Remove everything: the directory collapses back to the empty root.
	for name := range m.kids {
		if err := e.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustCommit(t, e); got != EmptyRoot() {
		t.Fatalf("emptied directory = %s, want EmptyRoot", got)
	}
}
