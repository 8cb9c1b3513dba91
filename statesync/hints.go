package statesync

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/hpfs/hpnode/merkle"
)

// Split hints: a client cannot know where the entries of a path-keyed tree lie (keys are paths,
// not uniform hashes as in avalanchego, so byte midpoints would mostly cut empty space), but the
// server can. A server walks a root's tree once into a sorted index of entry keys weighted by
// size and answers SplitKeys from it. Hints are never trusted for correctness: each chunk they
// produce is still proven against the root, so a lying server can only make a sync slower.

// maxIndexEntries caps one index; a tree with more entries gets hints for its first part only.
const maxIndexEntries = 1 << 20

// indexedRoots is how many roots' indexes a source keeps (the current target and its
// predecessor during a retarget).
const indexedRoots = 2

// entryOverhead is the weight of an entry besides its bytes: roughly what a proof spends on it.
const entryOverhead = 128

// ListFunc returns the entries of the directory at path in the tree at root, whose hash is dir,
// sorted by name. Implementations use whichever of path and dir they can look up.
type ListFunc func(ctx context.Context, root merkle.Hash, path string, dir merkle.Hash) ([]merkle.Entry, error)

func storeLister(store merkle.NodeStore) ListFunc {
	return func(_ context.Context, _ merkle.Hash, _ string, dir merkle.Hash) ([]merkle.Entry, error) {
		return merkle.ReadDir(store, dir)
	}
}

// treeIndex is every entry key of one tree in key order with the cumulative weight through it.
type treeIndex struct {
	keys    []merkle.Key
	cum     []uint64
	entries uint64
	bytes   uint64
}

func buildIndex(ctx context.Context, list ListFunc, root merkle.Hash) (*treeIndex, error) {
	idx := &treeIndex{}
	var walk func(path string, key merkle.Key, dir merkle.Hash) error
	walk = func(path string, key merkle.Key, dir merkle.Hash) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := list(ctx, root, path, dir)
		if err != nil {
			return fmt.Errorf("index %q: %w", path, err)
		}
		for _, e := range entries {
			if len(idx.keys) >= maxIndexEntries {
				return nil
			}
			k := append(append(append(merkle.Key{}, key...), e.Name...), 0)
			w := uint64(entryOverhead)
			if e.Kind == merkle.KindFile {
				w += e.Size
				idx.bytes += e.Size
			}
			idx.entries++
			prev := uint64(0)
			if n := len(idx.cum); n > 0 {
				prev = idx.cum[n-1]
			}
			idx.keys = append(idx.keys, k)
			idx.cum = append(idx.cum, prev+w)
			if e.Kind == merkle.KindDir {
				child := e.Name
				if path != "" {
					child = path + "/" + e.Name
				}
				if err := walk(child, k, e.Hash); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("", merkle.Key{}, root); err != nil {
		return nil, err
	}
	return idx, nil
}

func (x *treeIndex) totals() Totals { return Totals{Entries: x.entries, Bytes: x.bytes} }

// split returns up to n keys in (after, end] cutting that part of the index into n+1 parts of
// about equal weight, strictly increasing, never the first key of the part (that cut would
// leave an empty first chunk).
func (x *treeIndex) split(after, end merkle.Key, n int) []merkle.Key {
	lo := sort.Search(len(x.keys), func(i int) bool { return bytes.Compare(x.keys[i], after) > 0 })
	hi := len(x.keys)
	if end != nil {
		hi = sort.Search(len(x.keys), func(i int) bool { return bytes.Compare(x.keys[i], end) > 0 })
	}
	if n <= 0 || hi-lo < 2 {
		return nil
	}
	base := uint64(0)
	if lo > 0 {
		base = x.cum[lo-1]
	}
	w := x.cum[hi-1] - base
	var out []merkle.Key
	last := lo
	for i := 1; i <= n; i++ {
		t := base + w*uint64(i)/uint64(n+1)
		j := lo + sort.Search(hi-lo, func(k int) bool { return x.cum[lo+k] >= t })
		if j <= last || j >= hi {
			continue
		}
		out = append(out, x.keys[j])
		last = j
	}
	return out
}

// SplitIndex answers ProofSource.SplitKeys for any source that can list directories: it walks
// a root's tree once into a sorted index of entry keys weighted by size, and keeps the indexes
// of the last few roots asked for. It is safe for concurrent use.
type SplitIndex struct {
	list ListFunc

	mu    sync.Mutex // held while building: one walk at a time per source
	roots []merkle.Hash
	idx   map[merkle.Hash]*treeIndex
}

// NewSplitIndex returns a SplitIndex listing directories with list.
func NewSplitIndex(list ListFunc) *SplitIndex {
	return &SplitIndex{list: list, idx: map[merkle.Hash]*treeIndex{}}
}

// SplitKeys implements ProofSource.SplitKeys over the index of root.
func (c *SplitIndex) SplitKeys(ctx context.Context, root merkle.Hash, after, end merkle.Key, n int) ([]merkle.Key, Totals, error) {
	x, err := c.get(ctx, root)
	if err != nil {
		return nil, Totals{}, err
	}
	return x.split(after, end, n), x.totals(), nil
}

func (c *SplitIndex) get(ctx context.Context, root merkle.Hash) (*treeIndex, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x, ok := c.idx[root]; ok {
		return x, nil
	}
	x, err := buildIndex(ctx, c.list, root)
	if err != nil {
		return nil, err
	}
	if len(c.roots) >= indexedRoots {
		delete(c.idx, c.roots[0])
		c.roots = c.roots[1:]
	}
	c.roots = append(c.roots, root)
	c.idx[root] = x
	return x, nil
}
