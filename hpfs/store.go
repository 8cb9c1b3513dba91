package hpfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/merkle"
)

// Key layout of the pebble DB (all keys start with one tag byte):
//
//	'n' hash           → node bytes (dir, file, tree and symlink objects of merkle)
//	'l' hash           → leaf bytes in their stored encoding (leafcodec.go)
//	'c' 'n'|'l' hash   → refcount, 8-byte big endian; present exactly when the object is
//	                     reachable from a kept version (or an open pin, see below)
//	's' 'n'|'l' hash   → staged object written by PutNode/PutLeaf (import); not yet
//	                     referenced by any version, promoted to 'n'/'l' when a version needs it
//	'j' 'n'|'l' hash   → journal: the 'n'/'l' object was written by a proof sync and may have
//	                     no refcount yet (sync_store.go)
//	'v' seq            → version record: root (32) | unix nanos (8)
//	'h'                → head seq (8)
//	'p'                → params: leaf size (8) | leaf format (1, see leafcodec.go)
//
// Invariant: every object reachable from a kept version's root is stored under 'n'/'l' with a
// refcount equal to the number of kept versions whose root it is plus the number of stored nodes
// that list it as a child. Commit and GC maintain this in the same synced batch as the version
// record, so a crash leaves either the old or the new invariant, never a mix.
const (
	tagNode    = 'n'
	tagLeaf    = 'l'
	tagRef     = 'c'
	tagStaged  = 's'
	tagVersion = 'v'
	tagHead    = 'h'
	tagParams  = 'p'
)

// DefaultKeep is the number of committed versions kept when the caller does not say.
const DefaultKeep = 16

// StoreOptions configures OpenStore.
type StoreOptions struct {
	Dir    string       // the store directory; created if absent
	Keep   int          // committed versions to keep (≥ 1); 0 means DefaultKeep
	Logger *slog.Logger // nil means slog.Default()
}

// Validate checks the options, naming the field at fault.
func (o *StoreOptions) Validate() error {
	if o.Dir == "" {
		return errors.New("store options: Dir is empty")
	}
	if o.Keep < 0 {
		return fmt.Errorf("store options: Keep %d is negative", o.Keep)
	}
	return nil
}

// Version is one committed, immutable state of the tree.
type Version struct {
	Seq  uint64
	Root merkle.Hash
	Time time.Time
}

// Store is the pebble-backed, refcounted, content-addressed store of versions. It implements
// merkle.NodeStore. It is safe for concurrent use; commits are serialized.
type Store struct {
	dir    string
	keep   int
	log    *slog.Logger
	lock   *dirLock
	db     *pebble.DB
	params merkle.Params

	mu    sync.Mutex // guards versions, byRoot, pins and serializes commits
	cache *objCache  // committed nodes and leaves, by hash

	versions []Version // ascending seq; the last is the head
	byRoot   map[merkle.Hash]int
	pins     map[merkle.Hash]int

	// batchPool holds the tokens, and recycles the buffers, of writeSynced's batches and of
	// commits below maxRecycledBatch (batchpool.go).
	batchPool *batchBufs
}

var _ merkle.NodeStore = (*Store)(nil)

// OpenStore opens (creating if needed) the store in opts.Dir and takes its exclusive lock. A fresh
// store gets a first version whose root holds an empty state/ directory.
func OpenStore(opts StoreOptions) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Keep == 0 {
		opts.Keep = DefaultKeep
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create store dir: %w", err)
	}
	lk, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	db, err := pebble.Open(filepath.Join(opts.Dir, "db"), pebbleOptions(opts.Logger))
	if err != nil {
		lk.release()
		return nil, fmt.Errorf("open pebble in %s: %w", opts.Dir, err)
	}
	s := &Store{dir: opts.Dir, keep: opts.Keep, log: opts.Logger, lock: lk, db: db, cache: newObjCache(cacheBytes),
		byRoot: map[merkle.Hash]int{}, pins: map[merkle.Hash]int{}, batchPool: newBatchBufs(pooledBatches)}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) load() error {
	if err := s.loadParams(); err != nil {
		return err
	}
	// Staged objects belong to a sync that died with the previous process; nothing references them.
	if err := s.db.DeleteRange([]byte{tagStaged}, []byte{tagStaged + 1}, pebble.NoSync); err != nil {
		return fmt.Errorf("clear staged objects: %w", err)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagVersion}, UpperBound: []byte{tagVersion + 1}})
	if err != nil {
		return fmt.Errorf("iterate versions: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := decodeVersion(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		s.versions = append(s.versions, v)
		s.byRoot[v.Root]++
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("iterate versions: %w", err)
	}
	if len(s.versions) > 0 {
		return nil
	}
	return s.initFirstVersion()
}

func (s *Store) loadParams() error {
	v, closer, err := s.db.Get([]byte{tagParams})
	if errors.Is(err, pebble.ErrNotFound) {
		s.params = merkle.DefaultParams()
		var b [9]byte
		binary.BigEndian.PutUint64(b[:8], uint64(s.params.LeafSize))
		b[8] = leafFormat
		if err := s.db.Set([]byte{tagParams}, b[:], pebble.Sync); err != nil {
			return fmt.Errorf("write params: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read params: %w", err)
	}
	defer closer.Close()
	if len(v) == 8 {
		return fmt.Errorf("store %s holds raw leaves (leaf format 0); this hpfsd reads format %d: export it with the older hpfsd and import it again", s.dir, leafFormat)
	}
	if len(v) != 9 {
		return fmt.Errorf("params record has %d bytes, want 9", len(v))
	}
	if v[8] != leafFormat {
		return fmt.Errorf("store leaf format %d, this hpfsd reads %d", v[8], leafFormat)
	}
	s.params = merkle.Params{LeafSize: int(binary.BigEndian.Uint64(v[:8]))}
	return nil
}

// initFirstVersion commits version 1: a root with an empty state/ directory.
func (s *Store) initFirstVersion() error {
	ov := NewOverlay(s)
	ed, err := merkle.NewEditor(ov, merkle.EmptyRoot(), s.params)
	if err != nil {
		return fmt.Errorf("first version: %w", err)
	}
	if err := ed.Mkdir(StateDir, 0o755); err != nil {
		return fmt.Errorf("first version: %w", err)
	}
	root, err := ed.Commit()
	if err != nil {
		return fmt.Errorf("first version: %w", err)
	}
	_, err = s.Commit(root, ov)
	return err
}

// Params returns the tree parameters of this store (fixed at creation).
func (s *Store) Params() merkle.Params { return s.params }

// Dir returns the store directory.
func (s *Store) Dir() string { return s.dir }

// Close closes pebble and releases the lock. It is safe to call twice.
func (s *Store) Close() error {
	var err error
	if s.db != nil {
		err = s.db.Close()
		s.db = nil
	}
	if lerr := s.lock.release(); err == nil {
		err = lerr
	}
	return err
}

func objKey(tag byte, h merkle.Hash) []byte {
	k := make([]byte, 33)
	k[0] = tag
	copy(k[1:], h[:])
	return k
}

func stagedKey(tag byte, h merkle.Hash) []byte {
	k := make([]byte, 34)
	k[0], k[1] = tagStaged, tag
	copy(k[2:], h[:])
	return k
}

func refKey(tag byte, h merkle.Hash) []byte {
	k := make([]byte, 34)
	k[0], k[1] = tagRef, tag
	copy(k[2:], h[:])
	return k
}

func (s *Store) get(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

// cacheBytes bounds the object cache: 128 MiB holds two thousand leaves and every hot directory
// node.
const cacheBytes = 128 << 20

// getObject returns the object's bytes; callers must not modify them (they may be cached).
func (s *Store) getObject(tag byte, h merkle.Hash) ([]byte, error) {
	if v, ok := s.cache.get(tag, h); ok {
		return v, nil
	}
	v, ok, err := s.get(objKey(tag, h))
	committed := ok
	if err == nil && !ok {
		v, ok, err = s.get(stagedKey(tag, h))
	}
	if err != nil {
		return nil, fmt.Errorf("read %c %s: %w", tag, h, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", tagName(tag), h, merkle.ErrNotFound)
	}
	if tag == tagLeaf {
		if v, err = decodeLeaf(v, s.params.LeafSize); err != nil {
			return nil, fmt.Errorf("read leaf %s: %w", h, err)
		}
	}
	if committed {
		s.cache.put(tag, h, v)
	}
	return v, nil
}

func tagName(tag byte) string {
	if tag == tagLeaf {
		return "leaf"
	}
	return "node"
}

// GetNode implements merkle.NodeStore.
func (s *Store) GetNode(h merkle.Hash) ([]byte, error) { return s.getObject(tagNode, h) }

// GetLeaf implements merkle.NodeStore.
func (s *Store) GetLeaf(h merkle.Hash) ([]byte, error) { return s.getObject(tagLeaf, h) }

// PutNode implements merkle.NodeStore. The object is staged: it becomes part of the store only
// when a committed version references it (see Commit); staged objects do not survive a restart.
func (s *Store) PutNode(h merkle.Hash, data []byte) error { return s.putStaged(tagNode, h, data) }

// PutLeaf implements merkle.NodeStore, staging like PutNode.
func (s *Store) PutLeaf(h merkle.Hash, data []byte) error { return s.putStaged(tagLeaf, h, data) }

func (s *Store) putStaged(tag byte, h merkle.Hash, data []byte) error {
	if _, ok, err := s.get(objKey(tag, h)); err != nil || ok {
		return err
	}
	if tag == tagLeaf {
		data = encodeLeaf(data)
	}
	if err := s.db.Set(stagedKey(tag, h), data, pebble.NoSync); err != nil {
		return fmt.Errorf("stage %s %s: %w", tagName(tag), h, err)
	}
	return nil
}

// quietLogger routes pebble's informational chatter to slog at debug level.
type quietLogger struct{ l *slog.Logger }

// Infof implements pebble.Logger.
func (q quietLogger) Infof(format string, args ...any) {
	q.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

// Errorf implements pebble.Logger.
func (q quietLogger) Errorf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf implements pebble.Logger; pebble calls it only for unrecoverable corruption.
func (q quietLogger) Fatalf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	os.Exit(2)
}

var _ io.Closer = (*Store)(nil)
