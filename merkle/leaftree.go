package merkle

import (
	"fmt"
	"sort"
)

// A file's leaves form a binary tree split as in RFC 6962: over n >= 2 leaves the left subtree
// holds the largest power of two below n. A subtree over one leaf is that leaf's hash; every
// larger subtree is a stored tagTree node. Updating one leaf rewrites O(log n) nodes, and
// appending leaves keeps every complete power-of-two subtree on the left.

// leafTree describes a file's existing leaf tree.
type leafTree struct {
	root Hash
	n    uint64 // number of leaves
}

// find returns the hash of the subtree covering exactly leaves [lo, lo+cnt) if the tree has
// such a subtree.
func (t leafTree) find(l *loader, lo, cnt uint64) (Hash, bool, error) {
	blo, bn, h := uint64(0), t.n, t.root
	if lo+cnt > bn || cnt == 0 {
		return Hash{}, false, nil
	}
	for {
		if blo == lo && bn == cnt {
			return h, true, nil
		}
		if bn == 1 {
			return Hash{}, false, nil
		}
		n, err := l.load(h)
		if err != nil {
			return Hash{}, false, err
		}
		if n.tag != tagTree || n.count != bn {
			return Hash{}, false, fmt.Errorf("%w: leaf tree node %s is not over %d leaves", ErrCorrupt, h, bn)
		}
		k := splitCount(bn)
		switch {
		case lo+cnt <= blo+k:
			bn, h = k, n.left
		case lo >= blo+k:
			blo, bn, h = blo+k, bn-k, n.right
		default:
			return Hash{}, false, nil
		}
	}
}

// leafUpdate rebuilds a leaf tree over n leaves from a base tree and changed leaves.
type leafUpdate struct {
	l       *loader
	base    leafTree
	valid   uint64 // base leaves at index >= valid are stale and must be in changed
	changed map[uint64]Hash
	dirty   []uint64 // sorted keys of changed below n
}

func (u *leafUpdate) isDirty(lo, cnt uint64) bool {
	i := sort.Search(len(u.dirty), func(i int) bool { return u.dirty[i] >= lo })
	return i < len(u.dirty) && u.dirty[i] < lo+cnt
}

// build returns the hash of the subtree over leaves [lo, lo+cnt).
func (u *leafUpdate) build(lo, cnt uint64) (Hash, error) {
	if !u.isDirty(lo, cnt) && lo+cnt <= u.valid {
		h, ok, err := u.base.find(u.l, lo, cnt)
		if err != nil || ok {
			return h, err
		}
	}
	if cnt == 1 {
		if h, ok := u.changed[lo]; ok {
			return h, nil
		}
		return Hash{}, fmt.Errorf("%w: leaf %d", ErrMissingLeafHash, lo)
	}
	k := splitCount(cnt)
	left, err := u.build(lo, k)
	if err != nil {
		return Hash{}, err
	}
	right, err := u.build(lo+k, cnt-k)
	if err != nil {
		return Hash{}, err
	}
	return u.l.put(encodeTree(cnt, left, right))
}

// updateLeafTree returns the root of the leaf tree over n leaves (zero when n == 0).
func updateLeafTree(l *loader, base leafTree, valid, n uint64, changed map[uint64]Hash) (Hash, error) {
	if n == 0 {
		return Hash{}, nil
	}
	u := &leafUpdate{l: l, base: base, valid: min(valid, base.n), changed: changed}
	for i := range changed {
		if i < n {
			u.dirty = append(u.dirty, i)
		}
	}
	sort.Slice(u.dirty, func(a, b int) bool { return u.dirty[a] < u.dirty[b] })
	return u.build(0, n)
}

// appendLeaves appends the leaf hashes of the subtree h over cnt leaves to out.
func appendLeaves(l *loader, h Hash, cnt uint64, out []Hash) ([]Hash, error) {
	if cnt == 1 {
		return append(out, h), nil
	}
	n, err := l.load(h)
	if err != nil {
		return nil, err
	}
	if n.tag != tagTree || n.count != cnt {
		return nil, fmt.Errorf("%w: leaf tree node %s is not over %d leaves", ErrCorrupt, h, cnt)
	}
	k := splitCount(cnt)
	if out, err = appendLeaves(l, n.left, k, out); err != nil {
		return nil, err
	}
	return appendLeaves(l, n.right, cnt-k, out)
}
