package hpfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/merkle"
)

// ErrUnknownVersion reports a root that is not one of the kept versions.
var ErrUnknownVersion = errors.New("unknown version")

// ErrIncompleteTree reports a commit whose root reaches an object that neither the overlay nor
// the store holds.
var ErrIncompleteTree = errors.New("tree incomplete")

func versionKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = tagVersion
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func encodeVersion(v Version) []byte {
	b := make([]byte, 40)
	copy(b, v.Root[:])
	binary.BigEndian.PutUint64(b[32:], uint64(v.Time.UnixNano()))
	return b
}

func decodeVersion(key, val []byte) (Version, error) {
	if len(key) != 9 || len(val) != 40 || key[0] != tagVersion {
		return Version{}, fmt.Errorf("version record: key %x (%d bytes), value %d bytes; want a 9-byte %q key and 40 bytes",
			key, len(key), len(val), tagVersion)
	}
	var v Version
	v.Seq = binary.BigEndian.Uint64(key[1:])
	copy(v.Root[:], val)
	v.Time = time.Unix(0, int64(binary.BigEndian.Uint64(val[32:]))).UTC()
	return v, nil
}

// Head returns the latest committed version.
func (s *Store) Head() Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[len(s.versions)-1]
}

// Versions returns the kept versions, oldest first.
func (s *Store) Versions() []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Version(nil), s.versions...)
}

// HasVersion reports whether root is the root of a kept version.
func (s *Store) HasVersion(root merkle.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byRoot[root] > 0
}

// Pin keeps every version whose root is root from being dropped until the returned func is
// called (a read-only session holds one). It is O(1): nothing is written.
func (s *Store) Pin(root merkle.Hash) (unpin func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byRoot[root] == 0 {
		return nil, fmt.Errorf("pin %s: %w", root, ErrUnknownVersion)
	}
	s.pins[root]++
	var once bool
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if once {
			return
		}
		once = true
		if s.pins[root]--; s.pins[root] == 0 {
			delete(s.pins, root)
		}
		if err := s.gcLocked(); err != nil {
			s.log.Error("gc after unpin", "err", err)
		}
	}, nil
}

// Commit makes root a new committed version in one synced pebble batch: the objects root reaches
// that the store lacks (taken from ov, which may be nil, or from the staged objects of a sync),
// their refcounts, the version record, and the drop of versions beyond Keep. A crash before the
// batch is durable leaves the previous head; after, the new one.
func (s *Store) Commit(root merkle.Hash, ov *Overlay) (Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rb := newRefBatch(s, ov)
	defer rb.b.Close()
	committed := false
	if ov != nil {
		rb.b.Close()
		if size := ov.bytes() + 1<<20; size < maxRecycledBatch {
			// Pebble copies a batch this small into its memtable, so its buffer is reused from
			// commit to commit instead of faulted in afresh for each.
			b, buf := s.pooledBatch(size)
			rb.b = b
			defer func() { s.releasePooledBatch(b, buf, committed) }()
		} else {
			// One allocation for the whole batch: growing a 100 MiB batch by doubling costs
			// more than writing it.
			rb.b = newHugeBatch(s.db, size)
		}
	}
	if err := rb.incref(tagNode, root); err != nil {
		return Version{}, fmt.Errorf("commit %s: %w", root, err)
	}
	nv, err := s.addVersion(rb, root)
	if err != nil {
		return Version{}, fmt.Errorf("commit %s: %w", root, err)
	}
	if err := rb.flush(); err != nil {
		return Version{}, err
	}
	if err := rb.b.Commit(pebble.Sync); err != nil {
		return Version{}, fmt.Errorf("commit %s: write batch: %w", root, err)
	}
	committed = true
	s.publish(nv)
	return nv.v, nil
}

// newVersion is a version added to a batch but not yet published: the list it makes and the
// versions it pushes out of the window.
type newVersion struct {
	v          Version
	next, drop []Version
}

// addVersion adds to rb the record of a new head version of root and the refcount drops of the
// versions that fall out of the window. The caller holds s.mu, commits rb, then calls publish.
func (s *Store) addVersion(rb *refBatch, root merkle.Hash) (newVersion, error) {
	v := Version{Seq: 1, Root: root, Time: time.Now().UTC()}
	if n := len(s.versions); n > 0 {
		v.Seq = s.versions[n-1].Seq + 1
	}
	if err := rb.b.Set(versionKey(v.Seq), encodeVersion(v), nil); err != nil {
		return newVersion{}, err
	}
	next := append(s.versions, v)
	drop := s.droppable(next)
	for _, d := range drop {
		if err := rb.dropVersion(d); err != nil {
			return newVersion{}, fmt.Errorf("drop version %d: %w", d.Seq, err)
		}
	}
	return newVersion{v: v, next: next, drop: drop}, nil
}

// publish makes a version whose batch is durable the head.
func (s *Store) publish(nv newVersion) {
	s.versions = nv.next
	s.byRoot[nv.v.Root]++
	s.forget(nv.drop)
}

// droppable returns the versions of vs outside the newest Keep that no pin holds.
func (s *Store) droppable(vs []Version) []Version {
	var out []Version
	for i := 0; i < len(vs)-s.keep; i++ {
		if s.pins[vs[i].Root] == 0 {
			out = append(out, vs[i])
		}
	}
	return out
}

func (s *Store) forget(drop []Version) {
	if len(drop) == 0 {
		return
	}
	gone := map[uint64]bool{}
	for _, d := range drop {
		gone[d.Seq] = true
		if s.byRoot[d.Root]--; s.byRoot[d.Root] == 0 {
			delete(s.byRoot, d.Root)
		}
	}
	kept := s.versions[:0]
	for _, v := range s.versions {
		if !gone[v.Seq] {
			kept = append(kept, v)
		}
	}
	s.versions = kept
}

// gcLocked drops versions that fell out of the window while pinned. The batch needs no sync:
// it is atomic, and losing it only keeps a version a little longer.
func (s *Store) gcLocked() error {
	drop := s.droppable(s.versions)
	if len(drop) == 0 {
		return nil
	}
	rb := newRefBatch(s, nil)
	defer rb.b.Close()
	for _, d := range drop {
		if err := rb.dropVersion(d); err != nil {
			return fmt.Errorf("drop version %d: %w", d.Seq, err)
		}
	}
	if err := rb.flush(); err != nil {
		return err
	}
	if err := rb.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("gc batch: %w", err)
	}
	s.forget(drop)
	return nil
}

// refBatch accumulates refcount changes in memory and writes them into one pebble batch.
type refBatch struct {
	s  *Store
	ov *Overlay
	b  *pebble.Batch
	rc map[string]uint64 // refKey → count after this batch
}

type objRef struct {
	tag byte
	h   merkle.Hash
}

func newRefBatch(s *Store, ov *Overlay) *refBatch {
	return &refBatch{s: s, ov: ov, b: s.db.NewBatch(), rc: map[string]uint64{}}
}

func (r *refBatch) count(tag byte, h merkle.Hash) (uint64, error) {
	k := refKey(tag, h)
	if c, ok := r.rc[string(k)]; ok {
		return c, nil
	}
	v, ok, err := r.s.get(k)
	if err != nil {
		return 0, fmt.Errorf("read refcount: %w", err)
	}
	if !ok {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("refcount of %s %s has %d bytes", tagName(tag), h, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// incref adds one reference to (tag, h); an object going from 0 to 1 is written (from the
// overlay or the staged area) and adds one reference to each of its children in turn.
func (r *refBatch) incref(tag byte, h merkle.Hash) error {
	stack := []objRef{{tag, h}}
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c, err := r.count(o.tag, o.h)
		if err != nil {
			return err
		}
		r.rc[string(refKey(o.tag, o.h))] = c + 1
		if c > 0 {
			continue
		}
		data, err := r.materialize(o.tag, o.h)
		if err != nil {
			return err
		}
		if o.tag == tagLeaf {
			continue
		}
		nodes, leaves, err := merkle.NodeRefs(data)
		if err != nil {
			return fmt.Errorf("node %s: %w", o.h, err)
		}
		for _, l := range leaves {
			stack = append(stack, objRef{tagLeaf, l})
		}
		for _, n := range nodes {
			stack = append(stack, objRef{tagNode, n})
		}
	}
	return nil
}

// materialize makes sure the object is under its 'n'/'l' key once the batch commits and returns
// its bytes.
func (r *refBatch) materialize(tag byte, h merkle.Hash) ([]byte, error) {
	if r.ov != nil {
		if data, ok := r.ov.pending(tag, h); ok {
			if tag == tagLeaf {
				if sparse, known := r.ov.pendingEnc(h); known {
					return data, setLeafEncoded(r.b, objKey(tag, h), data, sparse)
				}
				return data, setLeaf(r.b, objKey(tag, h), data)
			}
			return data, r.b.Set(objKey(tag, h), data, nil)
		}
	}
	if data, ok, err := r.s.get(objKey(tag, h)); err != nil || ok {
		return data, err
	}
	// A staged leaf is already in its stored encoding and moves as is; callers use the bytes
	// returned only to find a node's children, and leaves have none.
	data, ok, err := r.s.get(stagedKey(tag, h))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", tagName(tag), h, ErrIncompleteTree)
	}
	if err := r.b.Set(objKey(tag, h), data, nil); err != nil {
		return nil, err
	}
	return data, r.b.Delete(stagedKey(tag, h), nil)
}

// decref removes one reference; an object reaching 0 is deleted and releases its children.
func (r *refBatch) decref(tag byte, h merkle.Hash) error {
	stack := []objRef{{tag, h}}
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c, err := r.count(o.tag, o.h)
		if err != nil {
			return err
		}
		if c == 0 {
			return fmt.Errorf("refcount of %s %s underflows", tagName(o.tag), o.h)
		}
		r.rc[string(refKey(o.tag, o.h))] = c - 1
		if c > 1 {
			continue
		}
		if o.tag == tagNode {
			data, ok, err := r.s.get(objKey(tagNode, o.h))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("node %s: %w", o.h, ErrIncompleteTree)
			}
			nodes, leaves, err := merkle.NodeRefs(data)
			if err != nil {
				return fmt.Errorf("node %s: %w", o.h, err)
			}
			for _, l := range leaves {
				stack = append(stack, objRef{tagLeaf, l})
			}
			for _, n := range nodes {
				stack = append(stack, objRef{tagNode, n})
			}
		}
		if err := r.b.Delete(objKey(o.tag, o.h), nil); err != nil {
			return err
		}
	}
	return nil
}

func (r *refBatch) dropVersion(v Version) error {
	if err := r.b.Delete(versionKey(v.Seq), nil); err != nil {
		return err
	}
	return r.decref(tagNode, v.Root)
}

// flush writes the accumulated refcounts into the batch (a zero count deletes the key).
func (r *refBatch) flush() error {
	var buf [8]byte
	for k, c := range r.rc {
		var err error
		if c == 0 {
			err = r.b.Delete([]byte(k), nil)
		} else {
			binary.BigEndian.PutUint64(buf[:], c)
			err = r.b.Set([]byte(k), buf[:], nil)
		}
		if err != nil {
			return fmt.Errorf("refcount batch: %w", err)
		}
	}
	return nil
}

// VersionOf returns the newest kept version whose root is root.
func (s *Store) VersionOf(root merkle.Hash) (Version, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byRoot[root] == 0 {
		return Version{}, false
	}
	for i := len(s.versions) - 1; i >= 0; i-- {
		if s.versions[i].Root == root {
			return s.versions[i], true
		}
	}
	return Version{}, false
}
