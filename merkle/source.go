package merkle

import (
	"bytes"
	"errors"
	"fmt"
)

// storeSource reads nodes from a store for the prover. With record set it appends every node
// and leaf it hands out (in walk order) to the proof being built; base, when set, prunes nodes
// identical to the base tree at the same position (a change proof), recording a nil marker.
type storeSource struct {
	l         *loader
	record    bool
	base      *baseTree
	nodes     [][]byte
	leaves    [][]byte
	nodeBytes uint64 // bytes of nodes handed out
}

func (s *storeSource) node(h Hash, pos position) (*node, error) {
	if s.base != nil {
		same, err := s.base.same(h, pos)
		if err != nil {
			return nil, err
		}
		if same {
			if s.record {
				s.nodes = append(s.nodes, nil)
			}
			return nil, nil
		}
	}
	data, err := s.l.store.GetNode(h)
	if err != nil {
		return nil, fmt.Errorf("prove %q: node %s: %w", pos.path, h, err)
	}
	n, err := s.l.load(h)
	if err != nil {
		return nil, err
	}
	s.nodeBytes += uint64(len(data))
	if s.record {
		s.nodes = append(s.nodes, data)
	}
	return n, nil
}

func (s *storeSource) leaf(h Hash, pos position, size uint64) ([]byte, error) {
	if s.base != nil {
		same, err := s.base.same(h, pos)
		if err != nil {
			return nil, err
		}
		if same {
			if s.record {
				s.leaves = append(s.leaves, nil)
			}
			return nil, nil
		}
	}
	if !s.record {
		return []byte{}, nil // counting pass: sizes come from the file node
	}
	data, err := s.l.store.GetLeaf(h)
	if err != nil {
		return nil, fmt.Errorf("prove %q leaf %d: %w", pos.path, pos.lo, err)
	}
	s.leaves = append(s.leaves, data)
	return data, nil
}

// proofSource feeds a verifier from a proof's node and leaf sequences, checking each against
// the hash its parent commits to. A nil element is a reuse marker, allowed only with a base.
type proofSource struct {
	root   Hash
	nodes  [][]byte
	leaves [][]byte
	ni, li int
	base   *baseTree // change proofs: where reuse markers are checked
	out    *Verified
}

func (p *proofSource) node(h Hash, pos position) (*node, error) {
	if p.ni >= len(p.nodes) {
		return nil, fmt.Errorf("%w: node %s at %q", ErrMissingNode, h, pos.path)
	}
	data := p.nodes[p.ni]
	p.ni++
	if len(data) == 0 {
		return nil, p.reuse(h, pos)
	}
	// Structure first, so a reordered, duplicated or invalid name is reported as such.
	n, err := decodeNode(data)
	if err != nil {
		return nil, fmt.Errorf("proof node %d at %q: %w", p.ni-1, pos.path, err)
	}
	if got := nodeHash(data); got != h {
		if p.ni == 1 {
			return nil, fmt.Errorf("%w: proof root node hashes to %s, want %s", ErrRootMismatch, got, h)
		}
		return nil, fmt.Errorf("%w: node %d at %q hashes to %s, parent commits to %s", ErrNodeMismatch, p.ni-1, pos.path, got, h)
	}
	p.out.Nodes = append(p.out.Nodes, Blob{Hash: h, Data: data})
	return n, nil
}

func (p *proofSource) leaf(h Hash, pos position, size uint64) ([]byte, error) {
	if p.li >= len(p.leaves) {
		return nil, fmt.Errorf("%w: %q leaf %d", ErrMissingLeaf, pos.path, pos.lo)
	}
	data := p.leaves[p.li]
	p.li++
	if len(data) == 0 {
		return nil, p.reuse(h, pos)
	}
	if uint64(len(data)) != size || LeafHash(data) != h {
		return nil, fmt.Errorf("%w: %q leaf %d (%d bytes, want %d)", ErrLeafMismatch, pos.path, pos.lo, len(data), size)
	}
	p.out.Leaves = append(p.out.Leaves, Blob{Hash: h, Data: data})
	return data, nil
}

func (p *proofSource) reuse(h Hash, pos position) error {
	if p.base == nil {
		return fmt.Errorf("%w: empty element at %q in a range proof", ErrMalformedProof, pos.path)
	}
	same, err := p.base.same(h, pos)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrReuseMismatch, pos.path, err)
	}
	if !same {
		return fmt.Errorf("%w: %q is not %s in the base", ErrReuseMismatch, pos.path, h)
	}
	return nil
}

// finish rejects unused proof elements.
func (p *proofSource) finish() error {
	if p.ni != len(p.nodes) || p.li != len(p.leaves) {
		return fmt.Errorf("%w: %d of %d nodes and %d of %d leaves unused", ErrExtraData,
			len(p.nodes)-p.ni, len(p.nodes), len(p.leaves)-p.li, len(p.leaves))
	}
	return nil
}

// baseTree answers "does the base tree hold hash h at this position?" for change proofs.
type baseTree struct {
	l    *loader
	root Hash
}

func (b *baseTree) same(h Hash, pos position) (bool, error) {
	got, ok, err := b.at(pos)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotDir) || errors.Is(err, ErrNotFile) {
		return false, nil
	}
	return ok && got == h, err
}

// at returns the hash the base tree holds at pos.
func (b *baseTree) at(pos position) (Hash, bool, error) {
	if pos.kind == posDirTop && pos.path == "" {
		return b.root, true, nil
	}
	var ent Entry
	var err error
	if pos.path == "" {
		ent = Entry{Kind: KindDir, Hash: b.root}
	} else if ent, err = lookup(b.l, b.root, pos.path); err != nil {
		return Hash{}, false, err
	}
	switch pos.kind {
	case posDirTop:
		return ent.Hash, ent.Kind == KindDir, nil
	case posSymlink:
		return ent.Hash, ent.Kind == KindSymlink, nil
	case posFile:
		return ent.Hash, ent.Kind == KindFile, nil
	case posDirNode:
		if ent.Kind != KindDir {
			return Hash{}, false, nil
		}
		return dirNodeAt(b.l, ent.Hash, pos.level, pos.first)
	}
	if ent.Kind != KindFile {
		return Hash{}, false, nil
	}
	f, err := loadFile(b.l, ent.Hash)
	if err != nil {
		return Hash{}, false, err
	}
	t := leafTree{root: f.root, n: numLeaves(f.size, f.leafSize)}
	cnt := pos.cnt
	if pos.kind == posLeaf {
		cnt = 1
	}
	return t.find(b.l, pos.lo, cnt)
}

// dirNodeAt returns the hash of the level-`level` node starting at name first in the
// directory whose top is top, if there is one.
func dirNodeAt(l *loader, top Hash, level int, first string) (Hash, bool, error) {
	h := top
	for {
		n, err := l.loadDir(h)
		if err != nil {
			return Hash{}, false, err
		}
		lv := nodeLevel(n)
		if lv < level {
			return Hash{}, false, nil
		}
		if lv == level {
			return h, n.firstName() == first, nil
		}
		i := len(n.kids) - 1
		for i > 0 && n.kids[i].first > first {
			i--
		}
		if lv-1 == level {
			k := n.kids[i]
			return k.hash, k.first == first, nil
		}
		h = n.kids[i].hash
	}
}

// Blob is one verified node or leaf: its hash and bytes, ready for NodeStore.PutNode/PutLeaf.
type Blob struct {
	Hash Hash
	Data []byte
}

// keyEqual compares proof ends where nil means the end of the key space.
func keyEqual(a, b Key) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return bytes.Equal(a, b)
}
