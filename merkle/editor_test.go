package merkle

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func mustCommit(t testing.TB, e *Editor) Hash {
	t.Helper()
	h, err := e.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEmptyRootIsEmptyDirectory(t *testing.T) {
	s := NewMemStore()
	e, err := NewEditor(s, EmptyRoot(), DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if got := mustCommit(t, e); got != EmptyRoot() {
		t.Fatalf("commit of no edits = %s, want %s", got, EmptyRoot())
	}
	ent, err := Lookup(s, EmptyRoot(), "")
	if err != nil || ent.Kind != KindDir || ent.Size != 0 {
		t.Fatalf("Lookup root = %+v, %v", ent, err)
	}
}

func TestEditorMatchesScratchBuild(t *testing.T) {
	const leafSize = 8
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 20 {
		m := randModel(r, 200, 40)
		s := NewMemStore()
		e, err := NewEditor(s, EmptyRoot(), Params{LeafSize: leafSize})
		if err != nil {
			t.Fatal(err)
		}
		writeModel(t, e, s, "", m, leafSize)
		got := mustCommit(t, e)
		want := scratchHash(t, NewMemStore(), m, leafSize)
		if got != want {
			t.Fatalf("iter %d: editor root %s, scratch root %s", iter, got, want)
		}
	}
}

func TestLookupReadDirFileLeaves(t *testing.T) {
	s := NewMemStore()
	e, _ := NewEditor(s, EmptyRoot(), Params{LeafSize: 4})
	if err := e.Mkdir("state", 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte("hello, world")
	if err := e.WriteFile("state/f", 0o644, uint64(len(data)), leafHashes(t, s, data, 4)); err != nil {
		t.Fatal(err)
	}
	if err := e.Symlink("state/l", "f"); err != nil {
		t.Fatal(err)
	}
	root := mustCommit(t, e)
	ent, err := Lookup(s, root, "state/f")
	if err != nil || ent.Kind != KindFile || ent.Size != 12 || ent.Mode != 0o644 {
		t.Fatalf("Lookup state/f = %+v, %v", ent, err)
	}
	leaves, err := FileLeaves(s, ent.Hash)
	if err != nil || len(leaves) != 3 {
		t.Fatalf("FileLeaves = %v, %v", leaves, err)
	}
	var got []byte
	for _, h := range leaves {
		d, err := s.GetLeaf(h)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d...)
	}
	if string(got) != string(data) {
		t.Fatalf("leaves hold %q, want %q", got, data)
	}
	st, _ := Lookup(s, root, "state")
	list, err := ReadDir(s, st.Hash)
	if err != nil || len(list) != 2 || list[0].Name != "f" || list[1].Name != "l" || st.Size != 2 {
		t.Fatalf("ReadDir = %+v, %v (state %+v)", list, err, st)
	}
	l, _ := Lookup(s, root, "state/l")
	if tgt, err := ReadSymlink(s, l.Hash); err != nil || tgt != "f" || l.Size != 1 {
		t.Fatalf("symlink = %q %+v %v", tgt, l, err)
	}
	if _, err := Lookup(s, root, "state/f/x"); !errors.Is(err, ErrNotDir) {
		t.Fatalf("lookup through a file: %v, want ErrNotDir", err)
	}
	if _, err := Lookup(s, root, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup missing: %v, want ErrNotFound", err)
	}
}

func TestEditorErrors(t *testing.T) {
	s := NewMemStore()
	e, _ := NewEditor(s, EmptyRoot(), Params{LeafSize: 4})
	if err := e.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteFile("f", 0o644, 3, map[uint64]Hash{0: LeafHash([]byte("abc"))}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"mkdir exists", e.Mkdir("d", 0o755), ErrExists},
		{"mkdir no parent", e.Mkdir("x/y", 0o755), ErrNotFound},
		{"mkdir under file", e.Mkdir("f/y", 0o755), ErrNotDir},
		{"mkdir dotdot", e.Mkdir("d/..", 0o755), ErrInvalidName},
		{"mkdir slash", e.Mkdir("d//x", 0o755), ErrInvalidName},
		{"mkdir root", e.Mkdir("", 0o755), ErrInvalidName},
		{"write dir", e.WriteFile("d", 0o644, 0, nil), ErrIsDir},
		{"symlink exists", e.Symlink("f", "x"), ErrExists},
		{"zero leaf hash", e.WriteFile("g", 0o644, 1, map[uint64]Hash{0: {}}), ErrInvalidArgument},
		{"symlink empty", e.Symlink("s", ""), ErrInvalidArgument},
		{"remove missing", e.Remove("zz"), ErrNotFound},
		{"rename into self", e.Rename("d", "d/x"), ErrInvalidArgument},
		{"rename dir over file", e.Rename("d", "f"), ErrNotDir},
		{"rename file over dir", e.Rename("f", "d"), ErrIsDir},
		{"rename missing", e.Rename("zz", "y"), ErrNotFound},
		{"chmod missing", e.Chmod("zz", 0), ErrNotFound},
		{"nul name", e.Mkdir("a\x00b", 0o755), ErrInvalidName},
		{"long name", e.Mkdir(string(make([]byte, 256)), 0o755), ErrInvalidName},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	// A grown file without the new leaf hash cannot commit.
	if err := e.WriteFile("f", 0o644, 9, map[uint64]Hash{1: LeafHash([]byte("defg"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(); !errors.Is(err, ErrMissingLeafHash) {
		t.Fatalf("commit with missing leaf: %v, want ErrMissingLeafHash", err)
	}
}

func TestValidateName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "/", "a\x00", string(make([]byte, 256))} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	for _, good := range []string{"a", "...", ".a", "a b", string(make([]byte, 255))[:0] + "x", "é"} {
		if err := ValidateName(good); err != nil {
			t.Errorf("ValidateName(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"/a", "a/", "a//b", "a/../b", "./a"} {
		if err := ValidatePath(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidatePath(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestCommitFailureKeepsEdits(t *testing.T) {
	s := NewMemStore()
	e, _ := NewEditor(s, EmptyRoot(), Params{LeafSize: 4})
	if err := e.WriteFile("f", 0o644, 8, map[uint64]Hash{0: LeafHash([]byte("abcd"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(); !errors.Is(err, ErrMissingLeafHash) {
		t.Fatalf("commit with a missing leaf: %v", err)
	}
	if e.Base() != EmptyRoot() {
		t.Fatal("failed commit moved the base")
	}
	if err := e.WriteFile("f", 0o644, 8, map[uint64]Hash{1: LeafHash([]byte("efgh"))}); err != nil {
		t.Fatal(err)
	}
	root := mustCommit(t, e)
	m := newDirModel(RootMode)
	m.kids["f"] = &model{kind: KindFile, mode: 0o644, data: []byte("abcdefgh")}
	if want := scratchHash(t, NewMemStore(), m, 4); root != want {
		t.Fatalf("retried commit %s, want %s", root, want)
	}
}
