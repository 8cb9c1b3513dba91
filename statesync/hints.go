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

// indexListers bounds the directory listings one index walk runs at once: a listing is a round
// trip to hpfsd, and the walk is on the critical path of a sync's first answer (the hints), when
// the cores are otherwise idle.
const indexListers = 4

// listBatch is how many directories are listed between two checks of maxIndexEntries.
const listBatch = 4 * indexListers

func buildIndex(ctx context.Context, list ListFunc, root merkle.Hash) (*treeIndex, error) {
	listed, err := listTree(ctx, list, root)
	if err != nil {
		return nil, err
	}
	idx := &treeIndex{}
	var walk func(path string, key merkle.Key) bool
	walk = func(path string, key merkle.Key) bool {
		entries, ok := listed[path]
		if !ok {
			return false // not listed: the index is full
		}
		for _, e := range entries {
			if len(idx.keys) >= maxIndexEntries {
				return false
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
			if e.Kind == merkle.KindDir && !walk(childPath(path, e.Name), k) {
				return false
			}
		}
		return true
	}
	walk("", merkle.Key{})
	return idx, nil
}

func childPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// listTree lists the directories of root's tree breadth first, up to indexListers at a time,
// until maxIndexEntries entries are listed, and returns the listings by path. Every listing
// goroutine has ended when it returns.
func listTree(ctx context.Context, list ListFunc, root merkle.Hash) (map[string][]merkle.Entry, error) {
	type dir struct {
		path string
		hash merkle.Hash
	}
	listed := map[string][]merkle.Entry{}
	total := 0
	for level := []dir{{"", root}}; len(level) > 0; {
		var next []dir
		for len(level) > 0 && total < maxIndexEntries {
			batch := level[:min(len(level), listBatch)]
			level = level[len(batch):]
			entries := make([][]merkle.Entry, len(batch))
			errs := make([]error, len(batch))
			sem := make(chan struct{}, indexListers)
			var wg sync.WaitGroup
			for i, d := range batch {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					if err := ctx.Err(); err != nil {
						errs[i] = err
						return
					}
					entries[i], errs[i] = list(ctx, root, d.path, d.hash)
				})
			}
			wg.Wait()
			for i, d := range batch {
				if errs[i] != nil {
					return nil, fmt.Errorf("index %q: %w", d.path, errs[i])
				}
				listed[d.path] = entries[i]
				total += len(entries[i])
				for _, e := range entries[i] {
					if e.Kind == merkle.KindDir {
						next = append(next, dir{childPath(d.path, e.Name), e.Hash})
					}
				}
			}
		}
		if total >= maxIndexEntries {
			break
		}
		level = next
	}
	return listed, nil
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
