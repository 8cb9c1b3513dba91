package merkle

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// model is an independent, naive description of a tree used to check the Editor: the root
// from scratch is computed from it without any incremental code.
type model struct {
	kind   Kind
	mode   uint32
	data   []byte            // file
	target string            // symlink
	kids   map[string]*model // dir
}

func newDirModel(mode uint32) *model {
	return &model{kind: KindDir, mode: mode, kids: map[string]*model{}}
}

// scratchHash builds the model's subtree into store from scratch and returns its hash.
func scratchHash(t testing.TB, s NodeStore, m *model, leafSize int) Hash {
	t.Helper()
	l := &loader{store: s}
	switch m.kind {
	case KindSymlink:
		h, err := l.put(encodeSymlink(m.target))
		if err != nil {
			t.Fatal(err)
		}
		return h
	case KindFile:
		var leaves []Hash
		for off := 0; off < len(m.data); off += leafSize {
			d := m.data[off:min(len(m.data), off+leafSize)]
			h := LeafHash(d)
			if err := s.PutLeaf(h, d); err != nil {
				t.Fatal(err)
			}
			leaves = append(leaves, h)
		}
		var build func(ls []Hash) Hash
		build = func(ls []Hash) Hash {
			if len(ls) == 1 {
				return ls[0]
			}
			k := splitCount(uint64(len(ls)))
			h, err := l.put(encodeTree(uint64(len(ls)), build(ls[:k]), build(ls[k:])))
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		var root Hash
		if len(leaves) > 0 {
			root = build(leaves)
		}
		h, err := l.put(encodeFile(fileNode{mode: m.mode, size: uint64(len(m.data)), leafSize: uint32(leafSize), root: root}))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	names := make([]string, 0, len(m.kids))
	for n := range m.kids {
		names = append(names, n)
	}
	sort.Strings(names)
	entries := make([]Entry, 0, len(names))
	for _, n := range names {
		k := m.kids[n]
		e := Entry{Name: n, Kind: k.kind, Mode: k.mode, Hash: scratchHash(t, s, k, leafSize)}
		switch k.kind {
		case KindDir:
			e.Size = uint64(len(k.kids))
		case KindFile:
			e.Size = uint64(len(k.data))
		case KindSymlink:
			e.Size = uint64(len(k.target))
			e.Mode = SymlinkMode
		}
		entries = append(entries, e)
	}
	h, err := buildDir(l, entries)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// leafHashes hashes data into leaves, storing them.
func leafHashes(t testing.TB, s NodeStore, data []byte, leafSize int) map[uint64]Hash {
	t.Helper()
	out := map[uint64]Hash{}
	for i, off := uint64(0), 0; off < len(data); i, off = i+1, off+leafSize {
		d := data[off:min(len(data), off+leafSize)]
		h := LeafHash(d)
		if err := s.PutLeaf(h, d); err != nil {
			t.Fatal(err)
		}
		out[i] = h
	}
	return out
}

// writeModel writes the whole model m under path through the editor and records it in parent.
func writeModel(t testing.TB, e *Editor, s NodeStore, path string, m *model, leafSize int) {
	t.Helper()
	var err error
	switch m.kind {
	case KindDir:
		if path != "" {
			err = e.Mkdir(path, m.mode)
		}
		for n, k := range m.kids {
			writeModel(t, e, s, joinPath(path, n), k, leafSize)
		}
	case KindFile:
		err = e.WriteFile(path, m.mode, uint64(len(m.data)), leafHashes(t, s, m.data, leafSize))
	case KindSymlink:
		err = e.Symlink(path, m.target)
	}
	if err != nil {
		t.Fatalf("write %q: %v", path, err)
	}
}

// randName returns a short random name; a small alphabet makes prefixes and collisions common.
func randName(r *rand.Rand) string {
	const alpha = "ab.c-Z~é"
	n := 1 + r.IntN(6)
	var b strings.Builder
	for range n {
		b.WriteByte(alpha[r.IntN(len(alpha))])
	}
	s := b.String()
	if ValidateName(s) != nil {
		return "x" + s
	}
	return s
}

func randData(r *rand.Rand, max int) []byte {
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.IntN(4)) // few distinct values: equal leaves and subtrees happen
	}
	return b
}

// randModel builds a random tree of about n names.
func randModel(r *rand.Rand, n, maxData int) *model {
	root := newDirModel(RootMode)
	dirs := []*model{root}
	for range n {
		d := dirs[r.IntN(len(dirs))]
		name := randName(r)
		if _, ok := d.kids[name]; ok {
			continue
		}
		switch x := r.IntN(10); {
		case x < 2:
			k := newDirModel(uint32(r.IntN(0o1000)))
			d.kids[name] = k
			dirs = append(dirs, k)
		case x < 3:
			d.kids[name] = &model{kind: KindSymlink, mode: SymlinkMode, target: fmt.Sprintf("t/%d", r.IntN(100))}
		default:
			d.kids[name] = &model{kind: KindFile, mode: uint32(r.IntN(0o10000)), data: randData(r, maxData)}
		}
	}
	return root
}

// paths lists every path of the model (not the root), sorted.
func (m *model) paths(prefix string, out []string) []string {
	for n, k := range m.kids {
		p := joinPath(prefix, n)
		out = append(out, p)
		if k.kind == KindDir {
			out = k.paths(p, out)
		}
	}
	sort.Strings(out)
	return out
}

func (m *model) at(path string) (parent *model, name string, node *model) {
	names := strings.Split(path, "/")
	d := m
	for _, n := range names[:len(names)-1] {
		d = d.kids[n]
	}
	last := names[len(names)-1]
	return d, last, d.kids[last]
}
