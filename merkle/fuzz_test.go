package merkle

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecodeNode: the node decoder never panics and accepts only canonical bytes.
func FuzzDecodeNode(f *testing.F) {
	f.Add(encodeDirLeaf(nil))
	f.Add(encodeDirLeaf([]Entry{{Name: "a", Kind: KindFile, Mode: 0o644, Size: 3}, {Name: "b", Kind: KindDir, Mode: 0o755}}))
	f.Add(encodeDirNode(1, []dirKid{{first: "a", count: 2}, {first: "q", count: 1}}))
	f.Add(encodeFile(fileNode{mode: 0o600, size: 10, leafSize: 4, root: Hash{1}}))
	f.Add(encodeTree(3, Hash{1}, Hash{2}))
	f.Add(encodeSymlink("target"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := decodeNode(data)
		if err != nil {
			return
		}
		var re []byte
		switch n.tag {
		case tagDirLeaf:
			re = encodeDirLeaf(n.entries)
		case tagDirNode:
			re = encodeDirNode(n.level, n.kids)
		case tagFile:
			re = encodeFile(n.file)
		case tagTree:
			re = encodeTree(n.count, n.left, n.right)
		case tagSymlink:
			re = encodeSymlink(n.target)
		}
		if !bytes.Equal(re, data) {
			t.Fatalf("decoded %x re-encodes as %x", data, re)
		}
		if _, _, err := NodeRefs(data); err != nil {
			t.Fatalf("NodeRefs of a decodable node: %v", err)
		}
	})
}

// fuzzTree is a small fixed tree for the proof fuzzers.
func fuzzTree(f *testing.F) (*fixture, Hash) {
	fx := newFixture(f, 77, 40, 12, 4)
	e, _ := NewEditor(fx.s, fx.root, Params{LeafSize: 4})
	if err := e.Mkdir("zz", 0o700); err != nil {
		f.Fatal(err)
	}
	if err := e.WriteFile("zz/f", 0o600, 5, leafHashes(f, fx.s, []byte("fuzz!"), 4)); err != nil {
		f.Fatal(err)
	}
	// Delete one subtree and truncate one file, so change proofs carry deletions.
	paths := fx.m.paths("", nil)
	if err := e.Remove(paths[0]); err != nil {
		f.Fatal(err)
	}
	for _, p := range paths[1:] {
		if _, _, k := fx.m.at(p); k.kind == KindFile && len(k.data) > 4 && !strings.HasPrefix(p, paths[0]+"/") {
			if err := e.WriteFile(p, k.mode, 1, leafHashes(f, fx.s, k.data[:1], 4)); err != nil {
				f.Fatal(err)
			}
			break
		}
	}
	root2, err := e.Commit()
	if err != nil {
		f.Fatal(err)
	}
	return fx, root2
}

func fuzzRange(fx *fixture, a, b uint16) (Key, Key) {
	start := fx.keys[int(a)%len(fx.keys)]
	var end Key
	if b%7 != 0 {
		end = fx.keys[int(b)%len(fx.keys)]
	}
	if end != nil && bytes.Compare(start, end) > 0 {
		start, end = end, start
	}
	return start, end
}

// FuzzVerifyRangeProof: decoding and verifying arbitrary bytes never panics, and whatever
// verifies is byte for byte the honest proof of the range it claims: a proof cannot lie.
func FuzzVerifyRangeProof(f *testing.F) {
	fx, _ := fuzzTree(f)
	for i, max := range []int{0, 1, 3, 9} {
		start, end := fuzzRange(fx, uint16(i*5), uint16(i*11+1))
		p, err := NewRangeProof(fx.s, fx.root, start, end, max, 0)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := p.MarshalBinary()
		f.Add(b, uint16(i*5), uint16(i*11+1))
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		var p RangeProof
		if err := p.UnmarshalBinary(data); err != nil {
			return
		}
		if re, _ := p.MarshalBinary(); !bytes.Equal(re, data) {
			t.Fatalf("non-canonical proof encoding accepted")
		}
		start, end := fuzzRange(fx, a, b)
		v, err := VerifyRangeProof(&p, fx.root, start, end)
		if err != nil {
			return
		}
		honest, err := NewRangeProof(fx.s, fx.root, start, v.End, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if hb, _ := honest.MarshalBinary(); !bytes.Equal(hb, data) {
			t.Fatalf("a proof other than the honest one verified for [%s, %s]", start, v.End)
		}
	})
}

// FuzzVerifyChangeProof: arbitrary change proofs never panic the verifier, and every entry a
// verified one reveals is true at root2.
func FuzzVerifyChangeProof(f *testing.F) {
	fx, root2 := fuzzTree(f)
	for i, max := range []int{0, 2, 5} {
		start, end := fuzzRange(fx, uint16(i*3), uint16(i*13+2))
		p, err := NewChangeProof(fx.s, fx.root, root2, start, end, max, 0)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := p.MarshalBinary()
		f.Add(b, uint16(i*3), uint16(i*13+2))
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		var p ChangeProof
		if err := p.UnmarshalBinary(data); err != nil {
			return
		}
		if re, _ := p.MarshalBinary(); !bytes.Equal(re, data) {
			t.Fatalf("non-canonical proof encoding accepted")
		}
		start, end := fuzzRange(fx, a, b)
		v, err := VerifyChangeProof(&p, fx.s, fx.root, root2, start, end)
		if err != nil {
			return
		}
		for _, pe := range v.Entries {
			if pe.Leaf {
				if pe.Data != nil && !bytes.Equal(mustLeaf(t, fx.s, root2, pe.Path, pe.Index), pe.Data) {
					t.Fatalf("false leaf data for %s", pe.Key)
				}
				continue
			}
			got, err := Lookup(fx.s, root2, pe.Path)
			if err != nil {
				t.Fatalf("revealed %s absent at root2: %v", pe.Key, err)
			}
			got.Name = pe.Entry.Name
			if pe.Path == "" {
				got.Name = ""
			}
			if got != pe.Entry {
				t.Fatalf("revealed %+v, root2 has %+v", pe.Entry, got)
			}
		}
	})
}

func mustLeaf(t *testing.T, s NodeStore, root Hash, path string, i uint64) []byte {
	e, err := Lookup(s, root, path)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := FileLeaves(s, e.Hash)
	if err != nil || i >= uint64(len(leaves)) {
		t.Fatalf("leaves of %s: %v", path, err)
	}
	d, err := s.GetLeaf(leaves[i])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FuzzMutateRangeProof flips, drops and duplicates parts of honest proofs structurally (so
// mutations reach the verifier's deep checks rather than the decoder) and checks that a
// mutated proof verifies only if it is byte for byte an honest one.
func FuzzMutateRangeProof(f *testing.F) {
	fx, _ := fuzzTree(f)
	f.Add(uint8(0), uint8(0), uint16(0), uint16(0), byte(1), uint16(3), uint16(9))
	f.Add(uint8(2), uint8(1), uint16(1), uint16(5), byte(0x80), uint16(0), uint16(7))
	f.Add(uint8(3), uint8(2), uint16(2), uint16(0), byte(0), uint16(4), uint16(30))
	f.Add(uint8(4), uint8(3), uint16(0), uint16(0), byte(0), uint16(1), uint16(2))
	f.Fuzz(func(t *testing.T, max, op uint8, idx, off uint16, x byte, a, b uint16) {
		start, end := fuzzRange(fx, a, b)
		p, err := NewRangeProof(fx.s, fx.root, start, end, int(max%12), 0)
		if err != nil {
			t.Fatal(err)
		}
		lists := []*[][]byte{&p.Nodes, &p.Leaves}
		l := lists[op%2]
		if len(*l) == 0 {
			return
		}
		i := int(idx) % len(*l)
		switch op / 2 % 5 {
		case 0: // flip a byte
			el := append([]byte(nil), (*l)[i]...)
			el[int(off)%len(el)] ^= x | 1
			(*l)[i] = el
		case 1: // drop an element
			*l = append((*l)[:i:i], (*l)[i+1:]...)
		case 2: // duplicate an element
			*l = append((*l)[:i+1:i+1], (*l)[i:]...)
		case 3: // swap with the next element
			j := (i + 1) % len(*l)
			(*l)[i], (*l)[j] = (*l)[j], (*l)[i]
		case 4: // move the end
			p.End = fx.keys[int(off)%len(fx.keys)]
		}
		v, err := VerifyRangeProof(p, fx.root, start, end)
		if err != nil {
			return
		}
		honest, err := NewRangeProof(fx.s, fx.root, start, v.End, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := honest.MarshalBinary()
		pb, _ := p.MarshalBinary()
		if !bytes.Equal(hb, pb) {
			t.Fatalf("mutated proof (op %d) verified for [%s, %s]", op, start, v.End)
		}
	})
}

// FuzzMutateChangeProof mutates honest change proofs structurally (including turning nodes
// into reuse markers and back) and checks that whatever verifies tells the truth: revealed
// entries are root2's and the deletions are exactly the honest proof's.
func FuzzMutateChangeProof(f *testing.F) {
	fx, root2 := fuzzTree(f)
	f.Add(uint8(0), uint8(0), uint16(0), uint16(0), byte(1), uint16(3), uint16(9))
	f.Add(uint8(1), uint8(10), uint16(1), uint16(5), byte(0x80), uint16(0), uint16(7))
	f.Add(uint8(3), uint8(12), uint16(2), uint16(0), byte(0), uint16(4), uint16(30))
	f.Fuzz(func(t *testing.T, max, op uint8, idx, off uint16, x byte, a, b uint16) {
		start, end := fuzzRange(fx, a, b)
		p, err := NewChangeProof(fx.s, fx.root, root2, start, end, int(max%8), 0)
		if err != nil {
			t.Fatal(err)
		}
		lists := []*[][]byte{&p.Nodes, &p.Leaves}
		l := lists[op%2]
		if len(*l) == 0 {
			return
		}
		i := int(idx) % len(*l)
		switch op / 2 % 6 {
		case 0:
			if len((*l)[i]) > 0 {
				el := append([]byte(nil), (*l)[i]...)
				el[int(off)%len(el)] ^= x | 1
				(*l)[i] = el
			}
		case 1:
			*l = append((*l)[:i:i], (*l)[i+1:]...)
		case 2:
			*l = append((*l)[:i+1:i+1], (*l)[i:]...)
		case 3:
			j := (i + 1) % len(*l)
			(*l)[i], (*l)[j] = (*l)[j], (*l)[i]
		case 4: // turn an element into a reuse marker
			(*l)[i] = nil
		case 5: // reveal a reused node from the store, whatever it is
			if (*l)[i] == nil && op%2 == 0 {
				(*l)[i] = encodeDirLeaf(nil)
			}
		}
		v, err := VerifyChangeProof(p, fx.s, fx.root, root2, start, end)
		if err != nil {
			return
		}
		for _, pe := range v.Entries {
			if pe.Leaf {
				if pe.Data != nil && !bytes.Equal(mustLeaf(t, fx.s, root2, pe.Path, pe.Index), pe.Data) {
					t.Fatalf("false leaf data for %s", pe.Key)
				}
				continue
			}
			if pe.Path == "" {
				continue
			}
			got, err := Lookup(fx.s, root2, pe.Path)
			if err != nil || got != pe.Entry {
				t.Fatalf("revealed %+v, root2 has %+v (%v)", pe.Entry, got, err)
			}
		}
		honest, err := NewChangeProof(fx.s, fx.root, root2, start, v.End, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		hv, err := VerifyChangeProof(honest, fx.s, fx.root, root2, start, v.End)
		if err != nil {
			t.Fatal(err)
		}
		if len(hv.Deleted) != len(v.Deleted) {
			t.Fatalf("deletions %v, honest %v", v.Deleted, hv.Deleted)
		}
		for i := range hv.Deleted {
			if !bytes.Equal(hv.Deleted[i], v.Deleted[i]) {
				t.Fatalf("deletions %v, honest %v", v.Deleted, hv.Deleted)
			}
		}
	})
}
