package merkle

import (
	"bytes"
	"fmt"
	"sort"
)

// Deletions in a change proof. The proof itself reveals root2's new and changed entries; the
// keys that root1 has and root2 lacks follow from comparing root1 (local) with the verified
// root2 nodes. Directories are compared by expanding, level by level, only the nodes the two
// trees do not share: a node hash present in both at the same level stands for the same set
// of entries, so it is dropped from both sides unread.

// deletedKeys returns every key in rng present at root1 and absent at root2. l reads root1's
// nodes and root2's verified nodes.
func deletedKeys(l *loader, root1, root2 Hash, rng bounds) ([]Key, error) {
	d := &differ{l: l, rng: rng}
	if err := d.dir("", Key{}, root1, root2); err != nil {
		return nil, err
	}
	sort.Slice(d.out, func(i, j int) bool { return bytes.Compare(d.out[i], d.out[j]) < 0 })
	return d.out, nil
}

type differ struct {
	l   *loader
	rng bounds
	out []Key
}

// frontierNode is a directory node with its key span.
type frontierNode struct {
	hash  Hash
	level int
	first string
	hi    Key // exclusive end of the span; nil: unbounded
}

// frontier is the set of one side's directory nodes still to compare.
type frontier struct {
	nodes []frontierNode
}

// dir compares directories h1 (root1) and h2 (root2) at key dk, either may be zero (absent).
func (d *differ) dir(path string, dk Key, h1, h2 Hash) error {
	if h1 == h2 || h1.IsZero() {
		return nil
	}
	var hi Key
	if len(dk) > 0 {
		hi = prefixEnd(dk)
	}
	sides := [2]*frontier{{}, {}}
	for i, h := range []Hash{h1, h2} {
		if h.IsZero() {
			continue
		}
		n, err := d.l.loadDir(h)
		if err != nil {
			return err
		}
		sides[i].nodes = []frontierNode{{hash: h, level: nodeLevel(n), first: n.firstName(), hi: hi}}
	}
	for {
		dropCommon(sides)
		// Expand the highest internal node on either side; stop when only chunks remain.
		si, ni, lv := -1, -1, 0
		for s, f := range sides {
			for i, fn := range f.nodes {
				if fn.level > lv {
					si, ni, lv = s, i, fn.level
				}
			}
		}
		if si < 0 {
			break
		}
		fn := sides[si].nodes[ni]
		n, err := d.l.loadDir(fn.hash)
		if err != nil {
			return err
		}
		var kids []frontierNode
		for i, k := range n.kids {
			khi := fn.hi
			if i+1 < len(n.kids) {
				khi = childKey(dk, n.kids[i+1].first)
			}
			if d.rng.meets(span{childKey(dk, k.first), khi}) {
				kids = append(kids, frontierNode{hash: k.hash, level: fn.level - 1, first: k.first, hi: khi})
			}
		}
		f := sides[si]
		f.nodes = append(f.nodes[:ni], append(kids, f.nodes[ni+1:]...)...)
	}
	var olds, news []Entry
	for i, dst := range []*[]Entry{&olds, &news} {
		for _, fn := range sides[i].nodes {
			n, err := d.l.loadDir(fn.hash)
			if err != nil {
				return err
			}
			for _, e := range n.entries {
				ck := childKey(dk, e.Name)
				if d.rng.meets(span{ck, prefixEnd(ck)}) {
					*dst = append(*dst, e)
				}
			}
		}
		sort.Slice(*dst, func(a, b int) bool { return (*dst)[a].Name < (*dst)[b].Name })
	}
	j := 0
	for _, o := range olds {
		for j < len(news) && news[j].Name < o.Name {
			j++
		}
		var nw *Entry
		if j < len(news) && news[j].Name == o.Name {
			nw = &news[j]
		}
		if err := d.entry(joinPath(path, o.Name), childKey(dk, o.Name), o, nw); err != nil {
			return err
		}
	}
	return nil
}

// dropCommon removes the nodes both sides hold at the same level.
func dropCommon(sides [2]*frontier) {
	type lh struct {
		h  Hash
		lv int
	}
	in0 := make(map[lh]int)
	for _, fn := range sides[0].nodes {
		in0[lh{fn.hash, fn.level}]++
	}
	common := make(map[lh]bool)
	for _, fn := range sides[1].nodes {
		if in0[lh{fn.hash, fn.level}] > 0 {
			common[lh{fn.hash, fn.level}] = true
		}
	}
	if len(common) == 0 {
		return
	}
	for _, f := range sides {
		kept := f.nodes[:0]
		for _, fn := range f.nodes {
			if !common[lh{fn.hash, fn.level}] {
				kept = append(kept, fn)
			}
		}
		f.nodes = kept
	}
}

// entry records what of root1's entry o (key ck) is gone at root2, where it is nw (nil: absent).
func (d *differ) entry(path string, ck Key, o Entry, nw *Entry) error {
	if nw != nil && *nw == o {
		return nil
	}
	if nw == nil && d.rng.has(ck) {
		d.out = append(d.out, ck)
	}
	switch o.Kind {
	case KindDir:
		var h2 Hash
		if nw != nil && nw.Kind == KindDir {
			h2 = nw.Hash
		}
		if h2.IsZero() {
			return d.gone(path, ck, o.Hash)
		}
		return d.dir(path, ck, o.Hash, h2)
	case KindFile:
		f, err := loadFile(d.l, o.Hash)
		if err != nil {
			return err
		}
		keep := uint64(0)
		if nw != nil && nw.Kind == KindFile {
			keep = numLeaves(nw.Size, f.leafSize)
		}
		for i := keep; i < numLeaves(f.size, f.leafSize); i++ {
			if lk := leafKey(ck, i); d.rng.has(lk) {
				d.out = append(d.out, lk)
			} else if d.rng.end != nil && bytes.Compare(lk, d.rng.end) > 0 {
				break
			}
		}
	}
	return nil
}

// gone records every key in range of root1's directory h (key dk), which root2 lacks.
func (d *differ) gone(path string, dk Key, h Hash) error {
	w := &walker{src: &storeSource{l: d.l}, rng: d.rng, emit: func(pe ProvenEntry, _ uint64) error {
		d.out = append(d.out, pe.Key)
		return nil
	}}
	top, err := d.l.loadDir(h)
	if err != nil {
		return fmt.Errorf("deleted directory %q: %w", path, err)
	}
	return w.dirBody(path, dk, top, prefixEnd(dk))
}
