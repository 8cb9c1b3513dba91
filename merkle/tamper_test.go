package merkle

import (
	"errors"
	"fmt"
	"testing"
)

// tamperTree is a tree with a multi-level root directory and a multi-level subdirectory of
// 3-leaf files, so proofs carry internal directory nodes, chunks, file nodes and leaves.
func tamperTree(t *testing.T) (*MemStore, Hash) {
	s := NewMemStore()
	e, _ := NewEditor(s, EmptyRoot(), Params{LeafSize: 4})
	if err := e.Mkdir("a", 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		data := []byte(fmt.Sprintf("data %05d", i))
		if err := e.WriteFile(fmt.Sprintf("a/f%03d", i), 0o644, uint64(len(data)), leafHashes(t, s, data, 4)); err != nil {
			t.Fatal(err)
		}
		if err := e.Symlink(fmt.Sprintf("s%03d", i), "a"); err != nil {
			t.Fatal(err)
		}
	}
	return s, mustCommit(t, e)
}

func key(t *testing.T, p string) Key {
	k, err := KeyOf(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// nodeWith returns the index of the first proof node (after the root) with the given tag and
// at least min entries or children.
func nodeWith(t *testing.T, p *RangeProof, tag byte, minLen int) (int, *node) {
	for i, d := range p.Nodes {
		if i == 0 || len(d) == 0 || d[0] != tag {
			continue
		}
		n, err := decodeNode(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(n.entries) >= minLen || len(n.kids) >= minLen {
			return i, n
		}
	}
	t.Fatalf("no %q node with %d items in proof", tag, minLen)
	return 0, nil
}

// editChunk rewrites the first chunk of file entries in the proof.
func editChunk(t *testing.T, p *RangeProof, edit func([]Entry) []Entry) {
	for i, d := range p.Nodes {
		if len(d) == 0 || d[0] != tagDirLeaf {
			continue
		}
		n, err := decodeNode(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(n.entries) >= 3 && n.entries[0].Kind == KindFile {
			p.Nodes[i] = encodeDirLeaf(edit(append([]Entry(nil), n.entries...)))
			return
		}
	}
	t.Fatal("no chunk of files in the proof")
}

func TestRangeProofTamperTable(t *testing.T) {
	s, root := tamperTree(t)
	start, end := key(t, "a/f100"), key(t, "a/f200")
	cases := []struct {
		name   string
		tamper func(p *RangeProof)
		start  Key // verify with this start instead, if set
		want   error
	}{
		{"drop a node", func(p *RangeProof) { p.Nodes = append(p.Nodes[:2], p.Nodes[3:]...) }, nil, ErrNodeMismatch},
		{"drop the last node", func(p *RangeProof) { p.Nodes = p.Nodes[:len(p.Nodes)-1] }, nil, ErrMissingNode},
		{"drop leaf data", func(p *RangeProof) { p.Leaves = p.Leaves[1:] }, nil, ErrLeafMismatch},
		{"drop the last leaf", func(p *RangeProof) { p.Leaves = p.Leaves[:len(p.Leaves)-1] }, nil, ErrMissingLeaf},
		{"drop an entry", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry { return append(es[:1], es[2:]...) })
		}, nil, ErrNodeMismatch},
		{"add an entry", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry {
				x := es[0]
				x.Name += "x"
				return append(es[:1], append([]Entry{x}, es[1:]...)...)
			})
		}, nil, ErrNodeMismatch},
		{"add a node", func(p *RangeProof) { p.Nodes = append(p.Nodes, p.Nodes[1]) }, nil, ErrExtraData},
		{"add a leaf", func(p *RangeProof) { p.Leaves = append(p.Leaves, p.Leaves[0]) }, nil, ErrExtraData},
		{"reorder entries", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry { es[0], es[1] = es[1], es[0]; return es })
		}, nil, ErrUnsorted},
		{"reorder nodes", func(p *RangeProof) { p.Nodes[1], p.Nodes[2] = p.Nodes[2], p.Nodes[1] }, nil, ErrNodeMismatch},
		{"reorder leaves", func(p *RangeProof) { p.Leaves[0], p.Leaves[1] = p.Leaves[1], p.Leaves[0] }, nil, ErrLeafMismatch},
		{"change a data byte", func(p *RangeProof) {
			p.Leaves[2] = append([]byte(nil), p.Leaves[2]...)
			p.Leaves[2][0] ^= 1
		}, nil, ErrLeafMismatch},
		{"change a mode", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry { es[1].Mode ^= 0o100; return es })
		}, nil, ErrNodeMismatch},
		{"change a file node's mode", func(p *RangeProof) {
			i, n := nodeWith(t, p, tagFile, 0)
			n.file.mode ^= 0o100
			p.Nodes[i] = encodeFile(n.file)
		}, nil, ErrNodeMismatch},
		{"change a size", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry { es[1].Size++; return es })
		}, nil, ErrNodeMismatch},
		{"shift the start boundary", func(p *RangeProof) {}, key(t, "a/f050"), ErrNodeMismatch},
		{"shift the end boundary forward", func(p *RangeProof) { p.End = key(t, "a/f190") }, nil, ErrMissingNode},
		{"shift the end boundary back", func(p *RangeProof) { p.End = key(t, "a/f101") }, nil, ErrExtraData},
		{"end beyond the range", func(p *RangeProof) { p.End = key(t, "b") }, nil, ErrBadRange},
		{"claim completeness when truncated", func(p *RangeProof) { p.End = end }, nil, ErrMissingNode},
		{"swap two subtrees", func(p *RangeProof) {
			n, _ := decodeNode(p.Nodes[0])
			n.kids[0], n.kids[1] = n.kids[1], n.kids[0]
			p.Nodes[0] = encodeDirNode(n.level, n.kids)
		}, nil, ErrUnsorted},
		{"swap two child hashes", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry { es[0].Hash, es[1].Hash = es[1].Hash, es[0].Hash; return es })
		}, nil, ErrNodeMismatch},
		{"duplicate a name", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry { es[1].Name = es[0].Name; return es })
		}, nil, ErrDuplicateName},
		{"name with a slash", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry { es[0].Name = "a/b"; return es })
		}, nil, ErrInvalidName},
		{"name dot-dot", func(p *RangeProof) {
			editChunk(t, p, func(es []Entry) []Entry { es[0].Name = ".."; return es })
		}, nil, ErrInvalidName},
		{"replace the root node", func(p *RangeProof) { p.Nodes[0] = encodeDirLeaf(nil) }, nil, ErrRootMismatch},
		{"reuse marker in a range proof", func(p *RangeProof) { p.Nodes[1] = nil }, nil, ErrMalformedProof},
		{"garbage node", func(p *RangeProof) { p.Nodes[1] = []byte{0x7f, 1, 2} }, nil, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewRangeProof(s, root, start, end, 40, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyRangeProof(p, root, start, end); err != nil {
				t.Fatalf("untampered proof: %v", err)
			}
			c.tamper(p)
			st := start
			if c.start != nil {
				st = c.start
			}
			_, err = VerifyRangeProof(p, root, st, end)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestVerifyRejectsInconsistentEntries builds trees whose hashes are honest but whose entries
// disagree with their child nodes (as a malicious proposer could), and checks that proofs
// over them are refused.
func TestVerifyRejectsInconsistentEntries(t *testing.T) {
	l := &loader{store: NewMemStore()}
	leaf := LeafHash([]byte("abc"))
	_ = l.store.PutLeaf(leaf, []byte("abc"))
	file, _ := l.put(encodeFile(fileNode{mode: 0o644, size: 3, leafSize: 4, root: leaf}))
	sym, _ := l.put(encodeSymlink("xyz"))
	sub, _ := l.put(encodeDirLeaf(nil))
	for _, c := range []struct {
		name string
		e    Entry
	}{
		{"mode differs from the file node", Entry{Name: "f", Kind: KindFile, Mode: 0o600, Size: 3, Hash: file}},
		{"size differs from the file node", Entry{Name: "f", Kind: KindFile, Mode: 0o644, Size: 4, Hash: file}},
		{"file entry pointing at a symlink", Entry{Name: "f", Kind: KindFile, Mode: 0o644, Size: 3, Hash: sym}},
		{"symlink size differs from its target", Entry{Name: "f", Kind: KindSymlink, Mode: SymlinkMode, Size: 2, Hash: sym}},
		{"directory size differs from its entries", Entry{Name: "f", Kind: KindDir, Mode: 0o755, Size: 1, Hash: sub}},
		{"directory entry pointing at a file", Entry{Name: "f", Kind: KindDir, Mode: 0o755, Size: 0, Hash: file}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, err := l.put(encodeDirLeaf([]Entry{c.e}))
			if err != nil {
				t.Fatal(err)
			}
			p := &RangeProof{}
			src := &storeSource{l: l, record: true}
			w := &walker{src: src, rng: bounds{Key{}, nil}, emit: func(ProvenEntry, uint64) error { return nil }}
			if err := w.walk(root); !errors.Is(err, ErrEntryMismatch) {
				t.Fatalf("prover walk: %v, want ErrEntryMismatch", err)
			}
			p.Nodes, p.Leaves = src.nodes, src.leaves
			if _, err := VerifyRangeProof(p, root, Key{}, nil); !errors.Is(err, ErrEntryMismatch) {
				t.Fatalf("got %v, want ErrEntryMismatch", err)
			}
		})
	}
}

func TestChangeProofTamper(t *testing.T) {
	s, root1 := tamperTree(t)
	e, _ := NewEditor(s, root1, Params{LeafSize: 4})
	data := []byte("changed!")
	if err := e.WriteFile("a/f150", 0o644, uint64(len(data)), leafHashes(t, s, data, 4)); err != nil {
		t.Fatal(err)
	}
	root2 := mustCommit(t, e)
	start, end := key(t, "a"), key(t, "a/f299")
	fresh := func() *ChangeProof {
		p, err := NewChangeProof(s, root1, root2, start, end, 0, 0)
		if err != nil || p.Fallback {
			t.Fatalf("change proof: %v fallback=%v", err, p != nil && p.Fallback)
		}
		if _, err := VerifyChangeProof(p, s, root1, root2, start, end); err != nil {
			t.Fatalf("untampered: %v", err)
		}
		return p
	}
	firstReuse := func(p *ChangeProof) int {
		for i, d := range p.Nodes {
			if d == nil {
				return i
			}
		}
		t.Fatal("no reuse marker")
		return 0
	}
	firstReal := func(p *ChangeProof) int {
		for i, d := range p.Nodes {
			if i > 0 && d != nil && d[0] == tagFile {
				return i
			}
		}
		t.Fatal("no file node")
		return 0
	}
	cases := []struct {
		name   string
		tamper func(p *ChangeProof)
		local  NodeStore
		want   error
	}{
		{"reuse a changed node", func(p *ChangeProof) { p.Nodes[firstReal(p)] = nil }, s, ErrReuseMismatch},
		{"reveal a different node for a reused one", func(p *ChangeProof) { p.Nodes[firstReuse(p)] = encodeDirLeaf(nil) }, s, ErrNodeMismatch},
		{"reuse against a base the verifier lacks", func(p *ChangeProof) {}, NewMemStore(), ErrReuseMismatch},
		{"claim completeness when truncated", func(p *ChangeProof) { p.End = nil }, s, ErrBadRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := fresh()
			c.tamper(p)
			if _, err := VerifyChangeProof(p, c.local, root1, root2, start, end); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestVerifyRejectsOverlappingDirectoryNodes: a hash-consistent directory whose first chunk
// holds a name beyond the second chunk's first name is refused, so keys always come in order.
func TestVerifyRejectsOverlappingDirectoryNodes(t *testing.T) {
	l := &loader{store: NewMemStore()}
	sym, _ := l.put(encodeSymlink("t"))
	ent := func(n string) Entry { return Entry{Name: n, Kind: KindSymlink, Mode: SymlinkMode, Size: 1, Hash: sym} }
	a, _ := l.put(encodeDirLeaf([]Entry{ent("a"), ent("z")}))
	b, _ := l.put(encodeDirLeaf([]Entry{ent("m")}))
	root, _ := l.put(encodeDirNode(1, []dirKid{{first: "a", count: 2, hash: a}, {first: "m", count: 1, hash: b}}))
	src := &storeSource{l: l, record: true}
	w := &walker{src: src, rng: bounds{Key{}, nil}, emit: func(ProvenEntry, uint64) error { return nil }}
	if err := w.walk(root); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("prover walk: %v, want ErrUnsorted", err)
	}
	p := &RangeProof{Nodes: src.nodes, Leaves: src.leaves}
	if _, err := VerifyRangeProof(p, root, Key{}, nil); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("got %v, want ErrUnsorted", err)
	}
}
