package merkle

import "testing"

// TestGoldenRoot pins the byte layout: a tree with leaf size 4 holding
// "state/" (0o755), "state/a.txt" = "hello world" (0o644), "state/ln" -> "a.txt",
// and "patch.cfg" = "{}" (0o600). If this fails, the layout changed and every
// existing root with it.
func TestGoldenRoot(t *testing.T) {
	s := NewMemStore()
	e, err := NewEditor(s, EmptyRoot(), Params{LeafSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Mkdir("state", 0o755))
	data := []byte("hello world")
	must(e.WriteFile("state/a.txt", 0o644, uint64(len(data)), leafHashes(t, s, data, 4)))
	must(e.Symlink("state/ln", "a.txt"))
	must(e.WriteFile("patch.cfg", 0o600, 2, leafHashes(t, s, []byte("{}"), 4)))
	root := mustCommit(t, e)
	const (
		wantEmpty = "4d398686661677ad1b6235a6b3df1308633daf56d01bbf2c43bb95beaa0ef233"
		wantRoot  = "c9b5c503c739fb9cf2f62e5ba06d4f2cd52d742190e48a37798a46a966cb785c"
	)
	if got := EmptyRoot().String(); got != wantEmpty {
		t.Errorf("EmptyRoot = %s, want %s", got, wantEmpty)
	}
	if got := root.String(); got != wantRoot {
		t.Errorf("root = %s, want %s", got, wantRoot)
	}
	// The proof format is pinned too: BLAKE3 of the encoded full range proof.
	p, err := NewRangeProof(s, root, Key{}, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := p.MarshalBinary()
	if got, want := nodeHash(enc).String(), "1a6eb71975a7448629f7a1b0065e92574cf892981a36461a6f084a795b286645"; got != want {
		t.Errorf("full proof hash = %s, want %s", got, want)
	}
}
