package merkle

import (
	"fmt"
	"sort"
)

// A directory is a history-independent chunked tree ("prolly tree") over its entries sorted by
// name. Level 0 nodes (tagDirLeaf) hold runs of entries; a level-j node (tagDirNode) holds runs
// of level j-1 nodes as (first name, entry count, hash). A level-j node ends after an entry e
// exactly when height(e.Name) > j, or at the end of the directory; the top node is the lowest
// level that has a single node. So the shape depends only on the set of names, an insert or
// delete changes O(1) nodes per level (O(log n) in all), and the directory's hash is its top
// node's hash.

// htEnd stands for "the height of the directory's last entry, not looked at": a node carrying
// it is the last at its level, and nothing is ever appended after it without rewriting it.
const htEnd = 1 << 30

// dref references one directory node at a known level during a rewrite.
type dref struct {
	first  string
	count  uint64
	hash   Hash
	lastHt int // height of the node's last entry (htEnd: the directory's end, unknown)
}

// dirEdit sets (del == false) or removes one name of a directory.
type dirEdit struct {
	name string
	del  bool
	e    Entry
}

// nodeLevel is 0 for chunks and the stored level for internal nodes.
func nodeLevel(n *node) int {
	if n.tag == tagDirLeaf {
		return 0
	}
	return n.level
}

// kidRefs lists a level-j node's children with their last-entry heights: every child but the
// last ends at a level j-1 boundary that is not a level j boundary, so its height is exactly j;
// the last child ends where the node ends.
func kidRefs(n *node, j, lastHt int) []dref {
	out := make([]dref, len(n.kids))
	for i, k := range n.kids {
		out[i] = dref{first: k.first, count: k.count, hash: k.hash, lastHt: j}
	}
	out[len(out)-1].lastHt = lastHt
	return out
}

// buildDir builds a directory from scratch from entries sorted by name and returns its hash.
func buildDir(l *loader, entries []Entry) (Hash, error) {
	refs, err := chunkEntries(l, entries)
	if err != nil {
		return Hash{}, err
	}
	return topOf(l, 0, refs)
}

// topOf stacks levels over level-j refs until one node remains, then returns its hash.
func topOf(l *loader, j int, refs []dref) (Hash, error) {
	if len(refs) == 0 {
		return l.put(encodeDirLeaf(nil))
	}
	for len(refs) > 1 {
		j++
		var err error
		if refs, err = chunkRefs(l, j, refs); err != nil {
			return Hash{}, err
		}
	}
	// The top is the lowest level with one node: drop single-child levels left by deletes.
	top := refs[0]
	for ; j > 0; j-- {
		n, err := l.loadDir(top.hash)
		if err != nil {
			return Hash{}, err
		}
		if len(n.kids) != 1 {
			break
		}
		top = kidRefs(n, j, top.lastHt)[0]
	}
	return top.hash, nil
}

// chunkEntries cuts sorted entries into level-0 nodes and stores them.
func chunkEntries(l *loader, entries []Entry) ([]dref, error) {
	var out []dref
	start := 0
	for i := range entries {
		h := height(entries[i].Name)
		if h == 0 && i != len(entries)-1 {
			continue
		}
		c := entries[start : i+1 : i+1]
		hash, err := l.putDecoded(encodeDirLeaf(c), &node{tag: tagDirLeaf, entries: c})
		if err != nil {
			return nil, err
		}
		out = append(out, dref{first: c[0].Name, count: uint64(len(c)), hash: hash, lastHt: h})
		start = i + 1
	}
	return out, nil
}

// chunkRefs groups level j-1 refs (with no open ref before the last) into level-j nodes.
func chunkRefs(l *loader, j int, refs []dref) ([]dref, error) {
	if j > maxDirLevel {
		return nil, fmt.Errorf("%w: directory deeper than %d levels", ErrCorrupt, maxDirLevel)
	}
	var out []dref
	start := 0
	for i := range refs {
		if refs[i].lastHt <= j && i != len(refs)-1 {
			continue
		}
		c := refs[start : i+1]
		kids := make([]dirKid, len(c))
		var total uint64
		for k, r := range c {
			kids[k] = dirKid{first: r.first, count: r.count, hash: r.hash}
			total += r.count
		}
		hash, err := l.putDecoded(encodeDirNode(j, kids), &node{tag: tagDirNode, level: j, kids: kids})
		if err != nil {
			return nil, err
		}
		out = append(out, dref{first: c[0].first, count: total, hash: hash, lastHt: refs[i].lastHt})
		start = i + 1
	}
	return out, nil
}

// applyDir applies sorted edits to the directory whose top node is top and returns the new
// top node's hash and entry count. Only nodes on the paths to edited names, and at most one
// neighbour per level where a boundary entry is removed, are read and rewritten.
func applyDir(l *loader, top Hash, edits []dirEdit) (Hash, uint64, error) {
	tn, err := l.loadDir(top)
	if err != nil {
		return Hash{}, 0, err
	}
	if len(edits) == 0 {
		return top, tn.dirCount(), nil
	}
	j := nodeLevel(tn)
	root := dref{first: tn.firstName(), count: tn.dirCount(), hash: top, lastHt: htEnd}
	outs, err := rewrite(l, j, root, edits)
	if err != nil {
		return Hash{}, 0, err
	}
	var count uint64
	for _, o := range outs {
		count += o.count
	}
	h, err := topOf(l, j, outs)
	return h, count, err
}

// rewrite applies edits to the level-j node r and returns the level-j nodes replacing it. All
// but the last returned node end at a level-j boundary; the last may be open (its last entry's
// height <= j) and is then merged with its right neighbour by the caller.
func rewrite(l *loader, j int, r dref, edits []dirEdit) ([]dref, error) {
	n, err := l.loadDir(r.hash)
	if err != nil {
		return nil, err
	}
	if nodeLevel(n) != j {
		return nil, fmt.Errorf("%w: node %s at level %d, want %d", ErrCorrupt, r.hash, nodeLevel(n), j)
	}
	if j == 0 {
		merged, sameNames := mergeEntries(n.entries, edits)
		if sameNames {
			// Only values changed: the boundaries, and so the shape, stay as they were.
			hash, err := l.putDecoded(encodeDirLeaf(merged), &node{tag: tagDirLeaf, entries: merged})
			if err != nil {
				return nil, err
			}
			return []dref{{first: r.first, count: r.count, hash: hash, lastHt: r.lastHt}}, nil
		}
		return chunkEntries(l, merged)
	}
	kids := kidRefs(n, j, r.lastHt)
	seq := make([]dref, 0, len(kids)+2)
	rest := edits
	for i, k := range kids {
		// Kid i receives the names below kid i+1's first name (kid 0 also those below its own).
		cut := len(rest)
		if i+1 < len(kids) {
			next := kids[i+1].first
			cut = sort.Search(len(rest), func(x int) bool { return rest[x].name >= next })
		}
		if cut == 0 {
			seq = append(seq, k)
			continue
		}
		o, err := rewrite(l, j-1, k, rest[:cut])
		if err != nil {
			return nil, err
		}
		seq = append(seq, o...)
		rest = rest[cut:]
	}
	if seq, err = fix(l, j-1, seq); err != nil {
		return nil, err
	}
	return chunkRefs(l, j, seq)
}

// fix merges every open level-j ref that is followed by another ref with that neighbour, so
// that only the last ref of seq may be open.
func fix(l *loader, j int, seq []dref) ([]dref, error) {
	for i := 0; i < len(seq)-1; {
		if seq[i].lastHt > j {
			i++
			continue
		}
		m, err := mergeAt(l, j, seq[i], seq[i+1])
		if err != nil {
			return nil, err
		}
		tail := append(m, seq[i+2:]...)
		seq = append(seq[:i], tail...)
		i += len(m) - 1
	}
	return seq, nil
}

// mergeAt re-chunks the contents of two adjacent level-j nodes, a being open.
func mergeAt(l *loader, j int, a, b dref) ([]dref, error) {
	na, err := l.loadDir(a.hash)
	if err != nil {
		return nil, err
	}
	nb, err := l.loadDir(b.hash)
	if err != nil {
		return nil, err
	}
	if nodeLevel(na) != j || nodeLevel(nb) != j {
		return nil, fmt.Errorf("%w: merging nodes at levels %d and %d, want %d", ErrCorrupt, nodeLevel(na), nodeLevel(nb), j)
	}
	if j == 0 {
		all := make([]Entry, 0, len(na.entries)+len(nb.entries))
		all = append(append(all, na.entries...), nb.entries...)
		return chunkEntries(l, all)
	}
	seq := append(kidRefs(na, j, a.lastHt), kidRefs(nb, j, b.lastHt)...)
	if seq, err = fix(l, j-1, seq); err != nil {
		return nil, err
	}
	return chunkRefs(l, j, seq)
}

// mergeEntries applies sorted edits to sorted entries into a new slice. sameNames reports
// that the set of names is unchanged (every edit updated an existing name).
func mergeEntries(entries []Entry, edits []dirEdit) (out []Entry, sameNames bool) {
	out = make([]Entry, 0, len(entries)+len(edits))
	sameNames = true
	i := 0
	for _, ed := range edits {
		for i < len(entries) && entries[i].Name < ed.name {
			out = append(out, entries[i])
			i++
		}
		exists := i < len(entries) && entries[i].Name == ed.name
		if exists {
			i++
		}
		switch {
		case ed.del && exists:
			sameNames = false
		case ed.del:
		case exists:
			out = append(out, ed.e)
		default:
			out = append(out, ed.e)
			sameNames = false
		}
	}
	return append(out, entries[i:]...), sameNames
}

// lookupChild finds name in the directory whose top node is dir, descending O(log n) nodes.
func lookupChild(l *loader, dir Hash, name string) (Entry, error) {
	h := dir
	for {
		n, err := l.loadDir(h)
		if err != nil {
			return Entry{}, err
		}
		if n.tag == tagDirLeaf {
			i := sort.Search(len(n.entries), func(i int) bool { return n.entries[i].Name >= name })
			if i < len(n.entries) && n.entries[i].Name == name {
				return n.entries[i], nil
			}
			return Entry{}, fmt.Errorf("%q: %w", name, ErrNotFound)
		}
		i := sort.Search(len(n.kids), func(i int) bool { return n.kids[i].first > name })
		if i == 0 {
			return Entry{}, fmt.Errorf("%q: %w", name, ErrNotFound)
		}
		h = n.kids[i-1].hash
	}
}

// readDir appends every entry of the directory node h (any level) to out, in name order.
func readDir(l *loader, h Hash, out []Entry) ([]Entry, error) {
	n, err := l.loadDir(h)
	if err != nil {
		return nil, err
	}
	if n.tag == tagDirLeaf {
		return append(out, n.entries...), nil
	}
	for _, k := range n.kids {
		if out, err = readDir(l, k.hash, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}
