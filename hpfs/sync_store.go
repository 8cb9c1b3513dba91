package hpfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/merkle"
)

// The proof-sync write path. Objects a verified proof reveals are written straight to their
// final 'n'/'l' keys (one NoSync batch per proof), each with a journal key beside it:
//
//	'j' 'n'|'l' hash   → empty; the object was written by a sync and may have no refcount yet
//
// so that promoting a synced tree at Done writes only refcounts and the version record, never
// the data again (staging and moving 1 GiB of leaves cost a second copy of every byte). The
// journal is how unreferenced objects are found again: commitSynced and sweepJournal delete every
// journaled object whose refcount is zero (a stale proof's objects, an aborted or crashed sync)
// and then the journal, under the store lock that serialises commits, so an rw commit that
// starts to reference a journaled object either sees it kept or writes it itself.
//
// Invariant kept: every object reachable from a kept version is under 'n'/'l' with its refcount;
// an object under 'n'/'l' without a refcount is journaled (or was written by a sync whose journal
// an atomic batch already swept, which cannot happen: object and journal key share a batch).
const tagJournal = 'j'

func journalKey(tag byte, h merkle.Hash) []byte {
	k := make([]byte, 34)
	k[0], k[1] = tagJournal, tag
	copy(k[2:], h[:])
	return k
}

// writeSynced stores the nodes and leaves of a verified proof under their final keys with their
// journal keys, in one unsynced batch: a crash loses at most what a sync refetches. Once the
// batch is committed, its objects are also remembered in written (nil: not remembered).
func (s *Store) writeSynced(v *merkle.Verified, written *syncedObjects) error {
	size := 0
	for _, n := range v.Nodes {
		size += len(n.Data) + 80
	}
	for _, l := range v.Leaves {
		size += len(l.Data) + 80
	}
	// A proof's batch is a few MiB, backed by huge pages (newHugeBatch's reasoning, at any
	// size) and recycled from proof to proof.
	b, buf := s.pooledBatch(size)
	committed := false
	defer func() { s.releasePooledBatch(b, buf, committed) }()
	for _, n := range v.Nodes {
		if err := b.Set(objKey(tagNode, n.Hash), n.Data, nil); err != nil {
			return fmt.Errorf("write synced node %s: %w", n.Hash, err)
		}
		if err := b.Set(journalKey(tagNode, n.Hash), nil, nil); err != nil {
			return fmt.Errorf("journal synced node %s: %w", n.Hash, err)
		}
	}
	for _, l := range v.Leaves {
		if err := setLeaf(b, objKey(tagLeaf, l.Hash), l.Data); err != nil {
			return fmt.Errorf("write synced leaf %s: %w", l.Hash, err)
		}
		if err := b.Set(journalKey(tagLeaf, l.Hash), nil, nil); err != nil {
			return fmt.Errorf("journal synced leaf %s: %w", l.Hash, err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("write synced objects: %w", err)
	}
	committed = true
	written.add(v.Nodes, v.Leaves)
	return nil
}

// maxSyncedNodeBytes bounds the node bytes a sync run remembers (a 100k-file tree's nodes take
// a few MiB); past it, the commit reads the rest from the store as before.
const maxSyncedNodeBytes = 64 << 20

// syncedNodeChunk is the size of the chunks remembered nodes are copied into: one allocation
// per MiB of nodes, not one per node.
const syncedNodeChunk = 1 << 20

// maxSyncedLeaves bounds the leaf hashes a sync run remembers (a million leaves: 64 GiB of
// large files, or a million small ones); past it, the commit checks the rest's journal keys.
const maxSyncedLeaves = 1 << 20

// syncedObjects remembers the nodes one sync run wrote (writeSynced) and the hashes of its
// leaves, so that the commit at Done learns the tree's shape and the leaves' presence from
// memory instead of seeking pebble once per object: over a 1 GiB sync's overlapping L0 files
// each seek cost ~19 µs, 0.2 CPU-s for 10k files (0.3 for 100k small files' journal keys),
// all of it on the serial tail of the sync.
//
// Invariant: every object in it was committed to its final key, with its journal key, while its
// run was the daemon's sync. It is proof of presence only while no version has been dropped
// since the run began (Store.stillKept: nothing was deleted), the condition under which the
// journal is trusted too; a run's sweep (abort, a new begin) ends the run and its cache.
type syncedObjects struct {
	mu     sync.Mutex
	nodes  map[merkle.Hash][]byte
	leaves map[merkle.Hash]struct{}
	chunk  []byte // the free tail of the current chunk
	bytes  int
}

func newSyncedObjects() *syncedObjects {
	return &syncedObjects{nodes: map[merkle.Hash][]byte{}, leaves: map[merkle.Hash]struct{}{}}
}

// add remembers copies of nodes (the proof's buffer is reused) within maxSyncedNodeBytes, and
// the hashes of leaves within maxSyncedLeaves.
func (c *syncedObjects) add(nodes, leaves []merkle.Blob) {
	if c == nil || len(nodes)+len(leaves) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range leaves {
		if len(c.leaves) >= maxSyncedLeaves {
			break
		}
		c.leaves[l.Hash] = struct{}{}
	}
	for _, n := range nodes {
		if _, ok := c.nodes[n.Hash]; ok {
			continue // every proof repeats the nodes above its range
		}
		if c.bytes+len(n.Data) > maxSyncedNodeBytes {
			return
		}
		if len(n.Data) > cap(c.chunk) {
			c.chunk = make([]byte, 0, max(syncedNodeChunk, len(n.Data)))
		}
		d := append(c.chunk, n.Data...)
		c.chunk = d[len(d):]
		c.nodes[n.Hash] = d[:len(n.Data):len(n.Data)]
		c.bytes += len(n.Data)
	}
}

// hasLeaf reports whether the run wrote the leaf h.
func (c *syncedObjects) hasLeaf(h merkle.Hash) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.leaves[h]
	return ok
}

// get returns a remembered node's bytes; they are never modified.
func (c *syncedObjects) get(h merkle.Hash) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.nodes[h]
	return d, ok
}

// commitSynced makes root, whose objects a sync wrote with writeSynced (or which the store
// already held), a new committed version in one synced batch: refcounts, the version record, the
// drop of versions beyond Keep, and the sweep of the journal. Unlike Commit it reads only the
// nodes of the objects it newly references and checks leaves for presence, so its cost is the
// tree's node bytes, not its data bytes.
//
// kept is the list of version seqs kept when the sync began (keptSeqs). If no version was
// dropped since, no object has been deleted since (only dropping a version deletes objects), so
// a journaled leaf is known present without reading it back: reading 1 GiB of leaves to check presence cost as
// much as a third of a sync. Under the same condition the objects in written (the run's
// writeSynced, may be nil) are known present: their nodes are not read back, and their leaves'
// journal keys not looked up.
func (s *Store) commitSynced(root merkle.Hash, kept []uint64, written *syncedObjects) (Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rb := newRefBatch(s, nil)
	defer rb.b.Close()
	trust := s.stillKept(kept)
	if !trust {
		written = nil
	}
	if err := s.increfSynced(rb, root, trust, written); err != nil {
		return Version{}, fmt.Errorf("commit synced %s: %w", root, err)
	}
	nv, err := s.addVersion(rb, root)
	if err != nil {
		return Version{}, fmt.Errorf("commit synced %s: %w", root, err)
	}
	if err := s.sweepInto(rb); err != nil {
		return Version{}, fmt.Errorf("commit synced %s: %w", root, err)
	}
	if err := rb.flush(); err != nil {
		return Version{}, err
	}
	if err := rb.b.Commit(pebble.Sync); err != nil {
		return Version{}, fmt.Errorf("commit synced %s: write batch: %w", root, err)
	}
	s.publish(nv)
	return nv.v, nil
}

// increfSynced adds one reference to root; an object going from 0 to 1 references its children
// in turn. It walks the tree breadth first and looks each level's refcounts, nodes and leaves up
// in key order through one iterator per kind: a point Get per object (a fresh iterator stack over
// every sstable, no bloom filters) cost tens of microseconds each, seconds for 100k files. Nodes
// are read from their final or staged key (a staged object moves to its final key); leaves are
// only checked for presence, by their tiny journal key when trustJournal. Objects in written
// (known present: the caller passes nil unless trustJournal) are not looked up at all.
func (s *Store) increfSynced(rb *refBatch, root merkle.Hash, trustJournal bool, written *syncedObjects) error {
	frontier := []objRef{{tagNode, root}}
	for len(frontier) > 0 {
		slices.SortFunc(frontier, func(a, b objRef) int {
			if a.tag != b.tag {
				return int(a.tag) - int(b.tag)
			}
			return bytes.Compare(a.h[:], b.h[:])
		})
		var unknown [][]byte
		for _, o := range frontier {
			if k := refKey(o.tag, o.h); !hasKey(rb.rc, k) {
				unknown = append(unknown, k)
			}
		}
		counts := map[string]uint64{}
		err := s.lookupSorted(tagRef, unknown, func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("refcount %x has %d bytes", k, len(v))
			}
			counts[string(k)] = binary.BigEndian.Uint64(v)
			return nil
		})
		if err != nil {
			return err
		}
		var nodes, leaves []objRef
		for _, o := range frontier {
			k := string(refKey(o.tag, o.h))
			c, ok := rb.rc[k]
			if !ok {
				c = counts[k]
			}
			rb.rc[k] = c + 1
			if c > 0 {
				continue
			}
			if o.tag == tagLeaf {
				leaves = append(leaves, o)
			} else {
				nodes = append(nodes, o)
			}
		}
		if err := s.checkLeaves(rb, leaves, trustJournal, written); err != nil {
			return err
		}
		next, err := s.childrenOf(rb, nodes, written)
		if err != nil {
			return err
		}
		frontier = next
	}
	return nil
}

func hasKey(m map[string]uint64, k []byte) bool {
	_, ok := m[string(k)]
	return ok
}

// checkLeaves makes sure every leaf (sorted) is stored under its final key, moving staged ones.
// Leaves in written are known present (the caller passes nil unless trustJournal).
func (s *Store) checkLeaves(rb *refBatch, leaves []objRef, trustJournal bool, written *syncedObjects) error {
	tag := byte(tagLeaf)
	if written != nil {
		unknown := leaves[:0:0]
		for _, o := range leaves {
			if !written.hasLeaf(o.h) {
				unknown = append(unknown, o)
			}
		}
		leaves = unknown
	}
	keys := make([][]byte, len(leaves))
	for i, o := range leaves {
		keys[i] = objKey(tagLeaf, o.h)
		if trustJournal {
			// Journal keys are tiny: checking one does not read the leaf's block.
			keys[i] = journalKey(tagLeaf, o.h)
		}
	}
	if trustJournal {
		tag = tagJournal
	}
	found := map[string]bool{}
	if err := s.lookupSorted(tag, keys, func(k, _ []byte) error { found[string(k)] = true; return nil }); err != nil {
		return err
	}
	for i, o := range leaves {
		if found[string(keys[i])] {
			continue
		}
		if trustJournal {
			// Not written by this sync: the store may hold it anyway.
			ok, err := s.has(objKey(tagLeaf, o.h))
			if err != nil {
				return err
			}
			if ok {
				continue
			}
		}
		// An object staged by an older daemon's sync path moves as is.
		if _, err := rb.materialize(tagLeaf, o.h); err != nil {
			return err
		}
	}
	return nil
}

// childrenOf reads the nodes (sorted) and returns their children. Nodes in written are taken
// from it, as present under their final keys.
func (s *Store) childrenOf(rb *refBatch, nodes []objRef, written *syncedObjects) ([]objRef, error) {
	var next []objRef
	add := func(h merkle.Hash, data []byte) error {
		ns, ls, err := merkle.NodeRefs(data)
		if err != nil {
			return fmt.Errorf("node %s: %w", h, err)
		}
		for _, l := range ls {
			next = append(next, objRef{tagLeaf, l})
		}
		for _, n := range ns {
			next = append(next, objRef{tagNode, n})
		}
		return nil
	}
	keys := make([][]byte, 0, len(nodes))
	unread := nodes[:0:0]
	for _, o := range nodes {
		if data, ok := written.get(o.h); ok {
			if err := add(o.h, data); err != nil {
				return nil, err
			}
			continue
		}
		keys = append(keys, objKey(tagNode, o.h))
		unread = append(unread, o)
	}
	found := map[string]bool{}
	err := s.lookupSorted(tagNode, keys, func(k, v []byte) error {
		found[string(k)] = true
		var h merkle.Hash
		copy(h[:], k[1:])
		return add(h, v)
	})
	if err != nil {
		return nil, err
	}
	for i, o := range unread {
		if found[string(keys[i])] {
			continue
		}
		data, err := rb.materialize(tagNode, o.h)
		if err != nil {
			return nil, err
		}
		if err := add(o.h, data); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// lookupSorted calls fn for each of keys (sorted ascending, all starting with tag) that is
// stored, with its value (valid during the call only), using one iterator and forward seeks.
func (s *Store) lookupSorted(tag byte, keys [][]byte, fn func(k, v []byte) error) error {
	if len(keys) == 0 {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tag}, UpperBound: []byte{tag + 1}})
	if err != nil {
		return fmt.Errorf("lookup %c keys: %w", tag, err)
	}
	defer it.Close()
	for _, k := range keys {
		if !it.SeekGE(k) {
			break
		}
		if !bytes.Equal(it.Key(), k) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("lookup %x: %w", k, err)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("lookup %c keys: %w", tag, err)
	}
	return nil
}

// keptSeqs returns the seqs of the kept versions.
func (s *Store) keptSeqs() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint64, len(s.versions))
	for i, v := range s.versions {
		out[i] = v.Seq
	}
	return out
}

// stillKept reports whether no version was dropped since kept was taken: every seq of kept is
// still kept, and so is every version committed since (seqs grow by one per commit). Callers
// hold s.mu.
func (s *Store) stillKept(kept []uint64) bool {
	if len(kept) == 0 {
		return false
	}
	i, next := 0, kept[len(kept)-1]+1
	for _, v := range s.versions {
		switch {
		case i < len(kept):
			if v.Seq != kept[i] {
				return false
			}
			i++
		case v.Seq != next:
			return false
		default:
			next++
		}
	}
	return i == len(kept)
}

// has reports whether key is present without copying its value.
func (s *Store) has(key []byte) (bool, error) {
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	closer.Close()
	return true, nil
}

// sweepInto adds to rb's batch the deletion of every journaled object left without a reference
// once rb's counts apply, and of the whole journal. Callers hold s.mu.
func (s *Store) sweepInto(rb *refBatch) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagJournal}, UpperBound: []byte{tagJournal + 1}})
	if err != nil {
		return fmt.Errorf("sweep journal: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 34 || (k[1] != tagNode && k[1] != tagLeaf) {
			return fmt.Errorf("sweep journal: malformed key %x", k)
		}
		var h merkle.Hash
		copy(h[:], k[2:])
		c, err := rb.count(k[1], h)
		if err != nil {
			return err
		}
		if c == 0 {
			if err := rb.b.Delete(objKey(k[1], h), nil); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("sweep journal: %w", err)
	}
	return rb.b.DeleteRange([]byte{tagJournal}, []byte{tagJournal + 1}, nil)
}

// sweepJournal deletes every journaled object nothing references, and the journal: what an
// aborted or crashed sync left. Callers make sure no sync is writing.
func (s *Store) sweepJournal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rb := newRefBatch(s, nil)
	defer rb.b.Close()
	if err := s.sweepInto(rb); err != nil {
		return err
	}
	if err := rb.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("sweep journal: %w", err)
	}
	return nil
}
