package merkle

import (
	"bytes"
	"sort"
)

// maxSplitNodes bounds how much of the partly synced tree Split reads.
const maxSplitNodes = 256

// Split divides the remaining ranges into about n pieces for fetching in parallel (from several
// peers). It cuts at keys of directory entries the store already holds for the target (the
// root directory's top node arrives with the first proof), so pieces follow the tree's shape;
// with nothing held yet it returns Remaining(). Each piece keeps its range's Base.
func (s *Syncer) Split(n int) []KeyRange {
	rem := s.Remaining()
	if n <= len(rem) {
		return rem
	}
	cands := s.cutKeys(4 * n)
	var inside []Key
	for _, k := range cands {
		for _, r := range rem {
			if bytes.Compare(k, r.Start) > 0 && (bounds{r.Start, r.End}).has(k) {
				inside = append(inside, k)
				break
			}
		}
	}
	want := n - len(rem)
	if want > len(inside) {
		want = len(inside)
	}
	if want <= 0 {
		return rem
	}
	// Evenly spaced cuts among the candidates.
	cuts := make([]Key, 0, want)
	for i := 1; i <= want; i++ {
		cuts = append(cuts, inside[i*len(inside)/(want+1)])
	}
	var out []KeyRange
	for _, r := range rem {
		cur := r
		for _, c := range cuts {
			if bytes.Compare(c, cur.Start) > 0 && (bounds{cur.Start, cur.End}).has(c) {
				out = append(out, KeyRange{Start: cur.Start, End: prev(c), Base: cur.Base})
				cur.Start = c
			}
		}
		out = append(out, cur)
	}
	return out
}

// cutKeys returns up to about max keys of entries of the target held in the store, sorted,
// read breadth-first from the root so the cuts fall between large subtrees first.
func (s *Syncer) cutKeys(max int) []Key {
	l := &loader{store: s.store}
	type item struct {
		h  Hash
		dk Key
	}
	queue := []item{{s.target, Key{}}}
	var keys []Key
	for read := 0; len(queue) > 0 && read < maxSplitNodes && len(keys) < max; read++ {
		it := queue[0]
		queue = queue[1:]
		n, err := l.load(it.h)
		if err != nil || !isDirNode(n.tag) {
			continue
		}
		if n.tag == tagDirNode {
			for _, k := range n.kids {
				keys = append(keys, childKey(it.dk, k.first))
				queue = append(queue, item{k.hash, it.dk})
			}
			continue
		}
		for _, e := range n.entries {
			ck := childKey(it.dk, e.Name)
			keys = append(keys, ck)
			if e.Kind == KindDir {
				queue = append(queue, item{e.Hash, ck})
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	out := keys[:0]
	for i, k := range keys {
		if i == 0 || !bytes.Equal(k, keys[i-1]) {
			out = append(out, k)
		}
	}
	return out
}
