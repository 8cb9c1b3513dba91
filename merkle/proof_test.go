package merkle

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sort"
	"testing"
)

// fixture is a random tree committed to a store, with its model.
type fixture struct {
	s        *MemStore
	root     Hash
	m        *model
	leafSize int
	keys     []Key // every key of the tree, sorted
}

func newFixture(t testing.TB, seed uint64, n, maxData, leafSize int) *fixture {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 5))
	m := randModel(r, n, maxData)
	s := NewMemStore()
	e, err := NewEditor(s, EmptyRoot(), Params{LeafSize: leafSize})
	if err != nil {
		t.Fatal(err)
	}
	writeModel(t, e, s, "", m, leafSize)
	f := &fixture{s: s, root: mustCommit(t, e), m: m, leafSize: leafSize}
	f.keys = modelKeys(m, leafSize)
	return f
}

// modelKeys enumerates every key of a model independently of the walker.
func modelKeys(m *model, leafSize int) []Key {
	keys := []Key{{}}
	for _, p := range m.paths("", nil) {
		k, _ := KeyOf(p)
		keys = append(keys, k)
		_, _, node := m.at(p)
		if node.kind == KindFile {
			for i := 0; i*leafSize < len(node.data); i++ {
				lk, _ := LeafKey(p, uint64(i))
				keys = append(keys, lk)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	return keys
}

// keysIn returns the fixture keys in [start, end].
func keysIn(keys []Key, start, end Key) []Key {
	var out []Key
	b := bounds{start, end}
	for _, k := range keys {
		if b.has(k) {
			out = append(out, k)
		}
	}
	return out
}

func (f *fixture) randKey(r *rand.Rand) Key {
	k := f.keys[r.IntN(len(f.keys))]
	switch r.IntN(3) {
	case 0:
		return next(k) // between keys
	case 1:
		if len(k) > 0 {
			return append(append(Key{}, k[:len(k)-1]...), k[len(k)-1]+1)
		}
	}
	return append(Key{}, k...)
}

func roundTrip(t testing.TB, p *RangeProof) *RangeProof {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q RangeProof
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return &q
}

func TestRangeProofProvesExactlyTheRange(t *testing.T) {
	for seed := range uint64(6) {
		f := newFixture(t, seed, 120, 30, 4)
		r := rand.New(rand.NewPCG(seed, 1))
		for range 60 {
			start, end := f.randKey(r), f.randKey(r)
			if r.IntN(5) == 0 {
				end = nil
			}
			if end != nil && bytes.Compare(start, end) > 0 {
				start, end = end, start
			}
			maxEntries := []int{0, 1, 2, 7, 50}[r.IntN(5)]
			p, err := NewRangeProof(f.s, f.root, start, end, maxEntries, 0)
			if err != nil {
				t.Fatal(err)
			}
			v, err := VerifyRangeProof(roundTrip(t, p), f.root, start, end)
			if err != nil {
				t.Fatalf("seed %d [%s, %s] max %d: %v", seed, start, end, maxEntries, err)
			}
			want := keysIn(f.keys, start, v.End)
			if len(v.Entries) != len(want) {
				t.Fatalf("[%s, %s]: %d entries, want %d", start, v.End, len(v.Entries), len(want))
			}
			for i, pe := range v.Entries {
				if !bytes.Equal(pe.Key, want[i]) {
					t.Fatalf("entry %d key %s, want %s", i, pe.Key, want[i])
				}
			}
			all := keysIn(f.keys, start, end)
			if v.Complete != (len(want) == len(all)) && v.Complete {
				t.Fatalf("complete proof missing keys: %d of %d", len(want), len(all))
			}
			if maxEntries > 0 && len(v.Entries) > maxEntries {
				t.Fatalf("%d entries over the limit %d", len(v.Entries), maxEntries)
			}
			if !v.Complete && len(v.Entries) == 0 {
				t.Fatalf("truncated proof made no progress")
			}
		}
	}
}

func TestRangeProofCarriesLeafData(t *testing.T) {
	f := newFixture(t, 3, 60, 30, 4)
	p, err := NewRangeProof(f.s, f.root, Key{}, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := VerifyRangeProof(p, f.root, Key{}, nil)
	if err != nil || !v.Complete {
		t.Fatalf("full proof: %v complete=%v", err, v != nil && v.Complete)
	}
	for _, pe := range v.Entries {
		if !pe.Leaf {
			continue
		}
		_, _, node := f.m.at(pe.Path)
		off := int(pe.Index) * f.leafSize
		if want := node.data[off:min(off+f.leafSize, len(node.data))]; !bytes.Equal(pe.Data, want) {
			t.Fatalf("%s leaf %d = %q, want %q", pe.Path, pe.Index, pe.Data, want)
		}
	}
}

func TestRangeProofByteLimit(t *testing.T) {
	f := newFixture(t, 4, 200, 60, 16)
	start := Key{}
	for i := 0; ; i++ {
		p, err := NewRangeProof(f.s, f.root, start, nil, 0, 2000)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := p.MarshalBinary()
		if len(b) > 8000 {
			t.Fatalf("proof of %d bytes for a 2000-byte limit", len(b))
		}
		v, err := VerifyRangeProof(p, f.root, start, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.Complete {
			if i == 0 {
				t.Fatal("byte limit never truncated")
			}
			return
		}
		start = next(v.End)
	}
}

func TestRangeProofRejectsBadRanges(t *testing.T) {
	f := newFixture(t, 5, 30, 10, 4)
	a, b := f.keys[3], f.keys[9]
	if _, err := NewRangeProof(f.s, f.root, b, a, 0, 0); !errors.Is(err, ErrBadRange) {
		t.Fatalf("inverted range: %v", err)
	}
	p, _ := NewRangeProof(f.s, f.root, a, b, 0, 0)
	if _, err := VerifyRangeProof(p, f.root, b, a); !errors.Is(err, ErrBadRange) {
		t.Fatalf("verify inverted: %v", err)
	}
	if _, err := VerifyRangeProof(p, f.root, a, f.keys[5]); !errors.Is(err, ErrBadRange) {
		t.Fatalf("proof end beyond the requested end: %v", err)
	}
	if _, err := VerifyRangeProof(p, EmptyRoot(), a, b); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("other root: %v", err)
	}
}

func TestChangeProofFallsBackWithoutHistory(t *testing.T) {
	f := newFixture(t, 6, 50, 20, 4)
	gone := Hash{1, 2, 3}
	p, err := NewChangeProof(f.s, gone, f.root, Key{}, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Fallback {
		t.Fatal("change proof from an unknown root did not fall back")
	}
	v, err := VerifyChangeProof(p, NewMemStore(), gone, f.root, Key{}, nil)
	if err != nil || !v.Fallback || !v.Complete {
		t.Fatalf("verify fallback: %v", err)
	}
}
