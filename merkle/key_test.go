package merkle

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestKeyOrderIsDepthFirstByName checks that sorting keys gives a depth-first walk with
// children by name, each directory's subtree contiguous right after it and each file's
// leaves right after the file.
func TestKeyOrderIsDepthFirstByName(t *testing.T) {
	m := randModel(rand.New(rand.NewPCG(4, 4)), 300, 12)
	keys := modelKeys(m, 4)
	// Depth-first order produced directly from the model.
	var dfs []Key
	var walk func(path string, d *model)
	walk = func(path string, d *model) {
		names := make([]string, 0, len(d.kids))
		for n := range d.kids {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := joinPath(path, n)
			k, _ := KeyOf(p)
			dfs = append(dfs, k)
			switch c := d.kids[n]; c.kind {
			case KindDir:
				walk(p, c)
			case KindFile:
				for i := 0; i*4 < len(c.data); i++ {
					lk, _ := LeafKey(p, uint64(i))
					dfs = append(dfs, lk)
				}
			}
		}
	}
	dfs = append(dfs, Key{})
	walk("", m)
	if len(dfs) != len(keys) {
		t.Fatalf("%d keys vs %d in depth-first order", len(keys), len(dfs))
	}
	for i := range keys {
		if !bytes.Equal(keys[i], dfs[i]) {
			t.Fatalf("key %d: sorted %s, depth-first %s", i, keys[i], dfs[i])
		}
	}
}

func TestKeyOfAndString(t *testing.T) {
	k, err := KeyOf("a/b")
	if err != nil || string(k) != "a\x00b\x00" || k.String() != "a/b" {
		t.Fatalf("KeyOf(a/b) = %q %v (%s)", k, err, k)
	}
	lk, _ := LeafKey("a/b", 7)
	if lk.String() != "a/b#7" || bytes.Compare(k, lk) >= 0 {
		t.Fatalf("LeafKey = %s", lk)
	}
	if root, _ := KeyOf(""); root == nil || len(root) != 0 {
		t.Fatalf("root key %q", root)
	}
	if _, err := KeyOf("a//b"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("KeyOf bad path: %v", err)
	}
	if _, err := LeafKey("", 0); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("LeafKey of root: %v", err)
	}
}

func TestParseHash(t *testing.T) {
	h := LeafHash([]byte("x"))
	got, err := ParseHash(h.String())
	if err != nil || got != h {
		t.Fatalf("ParseHash round trip: %v", err)
	}
	for _, bad := range []string{"", "00", h.String() + "0", "zz" + h.String()[2:]} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	for _, ls := range []int{0, -1, MaxLeafSize + 1} {
		if _, err := NewEditor(NewMemStore(), EmptyRoot(), Params{LeafSize: ls}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("leaf size %d: %v", ls, err)
		}
	}
	if _, err := NewEditor(NewMemStore(), Hash{9}, DefaultParams()); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown base: %v", err)
	}
}

func TestNodeRefsListsChildren(t *testing.T) {
	s := NewMemStore()
	e, _ := NewEditor(s, EmptyRoot(), Params{LeafSize: 2})
	_ = e.Mkdir("d", 0o755)
	_ = e.WriteFile("d/one", 0o644, 2, leafHashes(t, s, []byte("ab"), 2))
	_ = e.WriteFile("d/three", 0o644, 5, leafHashes(t, s, []byte("abcde"), 2))
	_ = e.Symlink("l", "d")
	root := mustCommit(t, e)
	// Walking NodeRefs from the root reaches exactly the nodes and leaves in the store.
	seenN, seenL := map[Hash]bool{}, map[Hash]bool{}
	var visit func(h Hash)
	visit = func(h Hash) {
		if seenN[h] {
			return
		}
		seenN[h] = true
		data, err := s.GetNode(h)
		if err != nil {
			t.Fatal(err)
		}
		nodes, leaves, err := NodeRefs(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leaves {
			if _, err := s.GetLeaf(l); err != nil {
				t.Fatalf("leaf ref %s: %v", l, err)
			}
			seenL[l] = true
		}
		for _, n := range nodes {
			visit(n)
		}
	}
	visit(root)
	if len(seenL) != 3 { // "ab" (shared by both files), "cd", "e"
		t.Fatalf("reached %d leaves, want 3", len(seenL))
	}
	if _, _, err := NodeRefs([]byte("junk")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("NodeRefs(junk): %v", err)
	}
}

func TestRenameMovesSubtreeByHash(t *testing.T) {
	s := NewMemStore()
	e, _ := NewEditor(s, EmptyRoot(), Params{LeafSize: 4})
	_ = e.Mkdir("a", 0o755)
	_ = e.Mkdir("a/b", 0o700)
	_ = e.WriteFile("a/b/f", 0o644, 3, leafHashes(t, s, []byte("xyz"), 4))
	root := mustCommit(t, e)
	before, _ := Lookup(s, root, "a/b")
	_ = e.Mkdir("c", 0o755)
	if err := e.Rename("a/b", "c/b2"); err != nil {
		t.Fatal(err)
	}
	root2 := mustCommit(t, e)
	after, err := Lookup(s, root2, "c/b2")
	if err != nil || after.Hash != before.Hash || after.Mode != 0o700 {
		t.Fatalf("moved dir %+v (%v), was %+v", after, err, before)
	}
	if _, err := Lookup(s, root2, "a/b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old path: %v", err)
	}
	// Replacing an existing file.
	_ = e.WriteFile("c/x", 0o600, 1, leafHashes(t, s, []byte("1"), 4))
	_ = e.WriteFile("c/y", 0o600, 1, leafHashes(t, s, []byte("2"), 4))
	if err := e.Rename("c/x", "c/y"); err != nil {
		t.Fatal(err)
	}
	root3 := mustCommit(t, e)
	y, _ := Lookup(s, root3, "c/y")
	leaves, _ := FileLeaves(s, y.Hash)
	if d, _ := s.GetLeaf(leaves[0]); string(d) != "1" {
		t.Fatalf("c/y holds %q after rename over it", d)
	}
}
