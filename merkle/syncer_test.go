package merkle

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// fetch asks the server for one range: a change proof when the range has a base, else a
// range proof. It returns the verified result (verification against the client's store).
func fetch(t testing.TB, server NodeStore, client NodeStore, target Hash, r KeyRange, maxEntries int) *Verified {
	t.Helper()
	if !r.Base.IsZero() {
		p, err := NewChangeProof(server, r.Base, target, r.Start, r.End, maxEntries, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := p.MarshalBinary()
		var q ChangeProof
		if err := q.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		v, err := VerifyChangeProof(&q, client, r.Base, target, r.Start, r.End)
		if err != nil {
			t.Fatalf("verify change proof %s: %v", r, err)
		}
		return v
	}
	p, err := NewRangeProof(server, target, r.Start, r.End, maxEntries, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := VerifyRangeProof(roundTrip(t, p), target, r.Start, r.End)
	if err != nil {
		t.Fatalf("verify range proof %s: %v", r, err)
	}
	return v
}

// syncAll drives a Syncer to completion: each round it splits the remaining ranges at random
// keys, fetches every piece, and applies the results in a random order.
func syncAll(t testing.TB, r *rand.Rand, sy *Syncer, server, client NodeStore, keys []Key, maxEntries int) (rounds int) {
	t.Helper()
	for !sy.Done() {
		rounds++
		if rounds > 10000 {
			t.Fatal("sync does not converge")
		}
		var pieces []KeyRange
		for _, rg := range sy.Remaining() {
			// Split at a random tree key inside the range: [start, k] and [next(k), end].
			k := keys[r.IntN(len(keys))]
			if (bounds{rg.Start, rg.End}).has(k) && r.IntN(2) == 0 && !bytes.Equal(k, rg.End) {
				pieces = append(pieces, KeyRange{Start: rg.Start, End: k, Base: rg.Base}, KeyRange{Start: next(k), End: rg.End, Base: rg.Base})
			} else {
				pieces = append(pieces, rg)
			}
		}
		var got []*Verified
		for _, pc := range pieces {
			got = append(got, fetch(t, server, client, sy.Target(), pc, maxEntries))
		}
		r.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		for _, v := range got {
			if err := sy.Apply(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	return rounds
}

// assertHolds checks that store holds the whole tree at root, by proving it from there.
func assertHolds(t testing.TB, store NodeStore, root Hash) {
	t.Helper()
	p, err := NewRangeProof(store, root, Key{}, nil, 0, 0)
	if err != nil {
		t.Fatalf("synced store lacks part of %s: %v", root, err)
	}
	if _, err := VerifyRangeProof(p, root, Key{}, nil); err != nil {
		t.Fatalf("synced store: %v", err)
	}
}

func TestSyncerRebuildsTreeFromRangeProofs(t *testing.T) {
	for seed := range uint64(8) {
		f := newFixture(t, seed+40, 150, 25, 4)
		r := rand.New(rand.NewPCG(seed, 3))
		client := NewMemStore()
		sy := NewSyncer(client, f.root, Params{LeafSize: 4})
		maxEntries := []int{1, 3, 10, 0}[seed%4]
		syncAll(t, r, sy, f.s, client, f.keys, maxEntries)
		assertHolds(t, client, f.root)
		// The synced tree reads back as the original: its scratch root is the target.
		if got := scratchHash(t, NewMemStore(), readModel(t, client, f.root, ""), 4); got != f.root {
			t.Fatalf("synced tree rebuilds to %s, want %s", got, f.root)
		}
	}
}

// readModel reads the tree at root back into a model.
func readModel(t testing.TB, s NodeStore, root Hash, path string) *model {
	t.Helper()
	ent, err := Lookup(s, root, path)
	if err != nil {
		t.Fatal(err)
	}
	switch ent.Kind {
	case KindSymlink:
		tgt, err := ReadSymlink(s, ent.Hash)
		if err != nil {
			t.Fatal(err)
		}
		return &model{kind: KindSymlink, mode: SymlinkMode, target: tgt}
	case KindFile:
		leaves, err := FileLeaves(s, ent.Hash)
		if err != nil {
			t.Fatal(err)
		}
		m := &model{kind: KindFile, mode: ent.Mode}
		for _, h := range leaves {
			d, err := s.GetLeaf(h)
			if err != nil {
				t.Fatal(err)
			}
			m.data = append(m.data, d...)
		}
		return m
	}
	m := newDirModel(ent.Mode)
	list, err := ReadDir(s, ent.Hash)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		m.kids[e.Name] = readModel(t, s, root, joinPath(path, e.Name))
	}
	return m
}

func TestSyncerFollowsNewTargetWithChangeProofs(t *testing.T) {
	for seed := range uint64(6) {
		const leafSize = 4
		r := rand.New(rand.NewPCG(seed, 11))
		f := newFixture(t, seed+70, 150, 25, leafSize)
		client := NewMemStore()
		sy := NewSyncer(client, f.root, Params{LeafSize: leafSize})
		// Sync half of the tree at root1, then move the target.
		for _, v := range []*Verified{fetch(t, f.s, client, f.root, KeyRange{Start: Key{}, End: f.keys[len(f.keys)/2]}, 0)} {
			if err := sy.Apply(v); err != nil {
				t.Fatal(err)
			}
		}
		e, _ := NewEditor(f.s, f.root, Params{LeafSize: leafSize})
		for range 15 {
			randomEdit(t, r, e, f.s, f.m, leafSize)
		}
		root2 := mustCommit(t, e)
		sy.SetTarget(root2)
		if err := sy.Apply(&Verified{Root: f.root}); !errors.Is(err, ErrTargetMismatch) {
			t.Fatalf("stale proof: %v", err)
		}
		var based int
		for _, rg := range sy.Remaining() {
			if rg.Base == f.root {
				based++
			}
		}
		if based == 0 {
			t.Fatal("no range kept root1 as its base")
		}
		syncAll(t, r, sy, f.s, client, modelKeys(f.m, leafSize), []int{1, 4, 0}[seed%3])
		assertHolds(t, client, root2)
	}
}

func TestChangeProofIsSmallForSmallChange(t *testing.T) {
	const leafSize = 4
	f := newFixture(t, 9, 300, 40, leafSize)
	e, _ := NewEditor(f.s, f.root, Params{LeafSize: leafSize})
	p := f.m.paths("", nil)
	var file string
	for _, x := range p {
		if _, _, k := f.m.at(x); k.kind == KindFile && len(k.data) > 0 {
			file = x
		}
	}
	_, _, k := f.m.at(file)
	nd := append([]byte(nil), k.data...)
	nd[0] ^= 0xff
	if err := e.WriteFile(file, k.mode, uint64(len(nd)), changedLeaves(t, f.s, k.data, nd, leafSize)); err != nil {
		t.Fatal(err)
	}
	root2 := mustCommit(t, e)
	cp, err := NewChangeProof(f.s, f.root, root2, Key{}, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := NewRangeProof(f.s, root2, Key{}, nil, 0, 0)
	cb, _ := cp.MarshalBinary()
	rb, _ := rp.MarshalBinary()
	if len(cb)*10 > len(rb) {
		t.Fatalf("change proof %d bytes vs range proof %d bytes for a one-byte change", len(cb), len(rb))
	}
	v, err := VerifyChangeProof(cp, f.s, f.root, root2, Key{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sawLeaf bool
	for _, pe := range v.Entries {
		if pe.Leaf && pe.Path == file && pe.Index == 0 {
			sawLeaf = bytes.Equal(pe.Data, nd[:min(leafSize, len(nd))])
		}
	}
	if !sawLeaf {
		t.Fatal("change proof does not reveal the changed leaf")
	}
}

func TestChangeProofListsDeletions(t *testing.T) {
	const leafSize = 4
	seen := 0
	for seed := range uint64(10) {
		r := rand.New(rand.NewPCG(seed, 21))
		f := newFixture(t, seed+90, 120, 25, leafSize)
		keys1 := f.keys
		e, _ := NewEditor(f.s, f.root, Params{LeafSize: leafSize})
		for range 12 {
			randomEdit(t, r, e, f.s, f.m, leafSize)
		}
		root2 := mustCommit(t, e)
		keys2 := modelKeys(f.m, leafSize)
		in2 := map[string]bool{}
		for _, k := range keys2 {
			in2[string(k)] = true
		}
		for range 10 {
			start, end := f.randKey(r), f.randKey(r)
			if r.IntN(4) == 0 {
				start, end = Key{}, nil
			}
			if end != nil && bytes.Compare(start, end) > 0 {
				start, end = end, start
			}
			p, err := NewChangeProof(f.s, f.root, root2, start, end, r.IntN(6), 0)
			if err != nil {
				t.Fatal(err)
			}
			v, err := VerifyChangeProof(p, f.s, f.root, root2, start, end)
			if err != nil {
				t.Fatal(err)
			}
			var want []Key
			for _, k := range keysIn(keys1, start, v.End) {
				if !in2[string(k)] {
					want = append(want, k)
				}
			}
			seen += len(want)
			if len(want) != len(v.Deleted) {
				t.Fatalf("seed %d [%s, %s]: deleted %v, want %v", seed, start, v.End, v.Deleted, want)
			}
			for i := range want {
				if !bytes.Equal(want[i], v.Deleted[i]) {
					t.Fatalf("deleted[%d] = %s, want %s", i, v.Deleted[i], want[i])
				}
			}
		}
	}
	if seen < 20 {
		t.Fatalf("only %d deletions exercised", seen)
	}
}

func TestSyncerSplitCoversRemainingExactly(t *testing.T) {
	f := newFixture(t, 123, 300, 10, 4)
	client := NewMemStore()
	sy := NewSyncer(client, f.root, Params{LeafSize: 4})
	if got := sy.Split(8); len(got) != 1 {
		t.Fatalf("split before any proof: %v", got)
	}
	if err := sy.Apply(fetch(t, f.s, client, f.root, KeyRange{Start: Key{}}, 5)); err != nil {
		t.Fatal(err)
	}
	pieces := sy.Split(8)
	if len(pieces) < 4 {
		t.Fatalf("split into %d pieces", len(pieces))
	}
	// The pieces are ordered, disjoint, and cover exactly the remaining keys of the tree.
	rem := sy.Remaining()
	for _, k := range f.keys {
		inRem := false
		for _, r := range rem {
			inRem = inRem || (bounds{r.Start, r.End}).has(k)
		}
		n := 0
		for _, p := range pieces {
			if (bounds{p.Start, p.End}).has(k) {
				n++
			}
		}
		if (n == 1) != inRem || n > 1 {
			t.Fatalf("key %s in %d pieces, remaining=%v", k, n, inRem)
		}
	}
	// Syncing piece by piece, in reverse order, completes.
	for i := len(pieces) - 1; i >= 0; i-- {
		p := pieces[i]
		for {
			v := fetch(t, f.s, client, f.root, p, 7)
			if err := sy.Apply(v); err != nil {
				t.Fatal(err)
			}
			if v.Complete {
				break
			}
			p.Start = next(v.End)
		}
	}
	if !sy.Done() {
		t.Fatalf("not done after all pieces: %v", sy.Remaining())
	}
	assertHolds(t, client, f.root)
}
