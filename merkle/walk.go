package merkle

import (
	"bytes"
	"errors"
	"fmt"
)

// The walker visits, in key order, every node of a tree whose key span meets a range, and
// emits every entry whose key lies in it. The prover and the verifier run the same walker over
// different sources (the store, the proof), so they agree exactly on which nodes a proof
// carries and in which order: the pruned tree is the walk's node sequence.
//
// Key spans: a directory's top node covers [dirKey, prefixEnd(dirKey)) (the root: everything);
// a non-top directory node with first name f covers [dirKey+f+0x00, the next sibling's low
// bound or its parent's high bound); a file node covers [fileKey, prefixEnd(fileKey)); a
// symlink node covers [key, prefixEnd(key)); a leaf-tree node over leaves [lo, lo+cnt) covers
// [leafKey(lo), next(leafKey(lo+cnt-1))).

// posKind says which kind of node a position names.
type posKind uint8

const (
	posDirTop posKind = iota
	posDirNode
	posFile
	posTree
	posLeaf
	posSymlink
)

// position names a node by where it sits in a tree rather than by hash, so a change proof can
// say "the same as root1 here".
type position struct {
	kind  posKind
	path  string
	level int    // posDirNode
	first string // posDirNode
	lo    uint64 // posTree, posLeaf
	cnt   uint64 // posTree
}

// source hands the walker the nodes it needs. node returns nil (and no error) when the source
// prunes the node as identical to the base tree (change proofs only); leaf likewise.
type source interface {
	node(h Hash, pos position) (*node, error)
	leaf(h Hash, pos position, size uint64) ([]byte, error)
}

// ProvenEntry is one entry of a tree proven by a proof: a directory (including the root, whose
// Entry has Name "" and Mode RootMode), a file's metadata, a symlink, or a leaf of a file.
type ProvenEntry struct {
	Key  Key
	Path string
	// Entry is the directory entry; zero for a leaf.
	Entry Entry
	// Target is a symlink's target.
	Target string
	// Leaf marks a leaf entry; Index is its number and Data its bytes (nil in a change proof
	// when the leaf is unchanged from the base).
	Leaf  bool
	Index uint64
	Data  []byte
}

// errStop ends a walk early without error.
var errStop = errors.New("stop walk")

type walker struct {
	src  source
	rng  bounds
	emit func(pe ProvenEntry, size uint64) error // size: leaf bytes, 0 otherwise
}

// walk visits the tree at root.
func (w *walker) walk(root Hash) error {
	top, err := w.src.node(root, position{kind: posDirTop})
	if err != nil || top == nil {
		return err
	}
	if !isDirNode(top.tag) {
		return fmt.Errorf("root %s is a %q node: %w", root, top.tag, ErrEntryMismatch)
	}
	rootKey := Key{}
	if w.rng.has(rootKey) {
		e := Entry{Kind: KindDir, Mode: RootMode, Size: top.dirCount(), Hash: root}
		if err := w.emit(ProvenEntry{Key: rootKey, Entry: e}, 0); err != nil {
			return err
		}
	}
	return w.dirBody("", rootKey, top, nil)
}

// dirBody visits the contents of directory node n of the directory at path (key dk), whose
// span ends at hi.
func (w *walker) dirBody(path string, dk Key, n *node, hi Key) error {
	// Names must stay below the next sibling's first name, so keys come out in order.
	last := n.lastName()
	if n.tag == tagDirNode {
		last = n.kids[len(n.kids)-1].first
	}
	if last != "" && hi != nil && bytes.Compare(childKey(dk, last), hi) >= 0 {
		return fmt.Errorf("%w: directory %q node holds %q beyond its span", ErrUnsorted, path, last)
	}
	if n.tag == tagDirNode {
		for i, k := range n.kids {
			khi := hi
			if i+1 < len(n.kids) {
				khi = childKey(dk, n.kids[i+1].first)
			}
			if !w.rng.meets(span{childKey(dk, k.first), khi}) {
				continue
			}
			pos := position{kind: posDirNode, path: path, level: n.level - 1, first: k.first}
			c, err := w.src.node(k.hash, pos)
			if err != nil {
				return err
			}
			if c == nil {
				continue
			}
			if !isDirNode(c.tag) || nodeLevel(c) != n.level-1 || c.dirCount() != k.count {
				return fmt.Errorf("%w: directory %q node %s is not a level %d node of %d entries", ErrCorrupt, path, k.hash, n.level-1, k.count)
			}
			if c.firstName() != k.first {
				return fmt.Errorf("%w: directory %q node starts at %q, parent says %q", ErrUnsorted, path, c.firstName(), k.first)
			}
			if err := w.dirBody(path, dk, c, khi); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range n.entries {
		ck := childKey(dk, e.Name)
		cs := span{ck, prefixEnd(ck)}
		if !w.rng.meets(cs) {
			continue
		}
		if err := w.child(joinPath(path, e.Name), ck, e); err != nil {
			return err
		}
	}
	return nil
}

// child emits entry e (key ck) if in range and visits its node.
func (w *walker) child(path string, ck Key, e Entry) error {
	in := w.rng.has(ck)
	switch e.Kind {
	case KindSymlink:
		n, err := w.src.node(e.Hash, position{kind: posSymlink, path: path})
		if err != nil {
			return err
		}
		pe := ProvenEntry{Key: ck, Path: path, Entry: e}
		if n != nil {
			if n.tag != tagSymlink || uint64(len(n.target)) != e.Size {
				return fmt.Errorf("%w: symlink %q", ErrEntryMismatch, path)
			}
			pe.Target = n.target
		}
		if in {
			return w.emit(pe, 0)
		}
		return nil
	case KindDir:
		if in {
			if err := w.emit(ProvenEntry{Key: ck, Path: path, Entry: e}, 0); err != nil {
				return err
			}
		}
		n, err := w.src.node(e.Hash, position{kind: posDirTop, path: path})
		if err != nil || n == nil {
			return err
		}
		if !isDirNode(n.tag) || n.dirCount() != e.Size {
			return fmt.Errorf("%w: directory %q has size %d, its node is a %q node", ErrEntryMismatch, path, e.Size, n.tag)
		}
		return w.dirBody(path, ck, n, prefixEnd(ck))
	}
	if in {
		if err := w.emit(ProvenEntry{Key: ck, Path: path, Entry: e}, 0); err != nil {
			return err
		}
	}
	n, err := w.src.node(e.Hash, position{kind: posFile, path: path})
	if err != nil || n == nil {
		return err
	}
	if n.tag != tagFile || n.file.mode != e.Mode || n.file.size != e.Size {
		return fmt.Errorf("%w: file %q entry (mode %#o size %d) vs node", ErrEntryMismatch, path, e.Mode, e.Size)
	}
	f := n.file
	nl := numLeaves(f.size, f.leafSize)
	if nl == 0 {
		return nil
	}
	return w.leaves(path, ck, f, f.root, 0, nl)
}

// leaves visits the leaf subtree h over leaves [lo, lo+cnt) of file f at key fk.
func (w *walker) leaves(path string, fk Key, f fileNode, h Hash, lo, cnt uint64) error {
	if !w.rng.meets(span{leafKey(fk, lo), next(leafKey(fk, lo+cnt-1))}) {
		return nil
	}
	if cnt == 1 {
		size := leafLen(f.size, f.leafSize, lo)
		data, err := w.src.leaf(h, position{kind: posLeaf, path: path, lo: lo}, size)
		if err != nil {
			return err
		}
		return w.emit(ProvenEntry{Key: leafKey(fk, lo), Path: path, Leaf: true, Index: lo, Data: data}, size)
	}
	n, err := w.src.node(h, position{kind: posTree, path: path, lo: lo, cnt: cnt})
	if err != nil || n == nil {
		return err
	}
	if n.tag != tagTree || n.count != cnt {
		return fmt.Errorf("%w: file %q leaf tree node %s is not over %d leaves", ErrCorrupt, path, h, cnt)
	}
	k := splitCount(cnt)
	if err := w.leaves(path, fk, f, n.left, lo, k); err != nil {
		return err
	}
	return w.leaves(path, fk, f, n.right, lo+k, cnt-k)
}
