package merkle

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Editor applies edits to the tree at base and produces a new root. Edits build an overlay of
// the touched directories and files; Commit rehashes only those paths, reading and writing
// O(log n) nodes per touched name. Decoded nodes are cached across commits. An Editor is not
// safe for concurrent use; after Commit it continues from the new root.
type Editor struct {
	l       *loader
	p       Params
	base    Hash
	root    *edDir          // overlay of the root directory; nil when nothing changed
	pending map[Hash][]byte // symlink nodes created since the last commit
}

// edDir is the overlay of a directory being edited.
type edDir struct {
	base Hash               // the directory's top node before the edits
	kids map[string]*edNode // names set or removed
}

// edNode is the new state of one name in an edited directory.
type edNode struct {
	del   bool
	entry Entry   // complete unless dir or file is set (their Hash and Size come at Commit)
	dir   *edDir  // edited subdirectory
	file  *edFile // edited file
}

// edFile is a regular file being written.
type edFile struct {
	base    leafTree        // the base file's leaves
	valid   uint64          // base leaves below this index still hold the file's bytes
	size    uint64          // new size
	changed map[uint64]Hash // leaf hashes differing from base
}

// NewEditor returns an Editor over the tree at base in store.
func NewEditor(store NodeStore, base Hash, p Params) (*Editor, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	e := &Editor{l: &loader{store: store, cache: make(map[Hash]*node)}, p: p, base: base}
	if base == EmptyRoot() {
		if _, err := e.l.put(encodeDirLeaf(nil)); err != nil {
			return nil, err
		}
	}
	if _, err := e.l.loadDir(base); err != nil {
		return nil, fmt.Errorf("new editor at %s: %w", base, err)
	}
	return e, nil
}

// Base returns the root the pending edits apply to (the last committed root).
func (e *Editor) Base() Hash { return e.base }

// get returns the current state of name in d, or nil when absent.
func (e *Editor) get(d *edDir, name string) (*edNode, error) {
	if k, ok := d.kids[name]; ok {
		if k.del {
			return nil, nil
		}
		return k, nil
	}
	if d.base.IsZero() {
		return nil, nil
	}
	ent, err := lookupChild(e.l, d.base, name)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &edNode{entry: ent}, nil
}

// dir returns the overlay of the directory at path, creating overlays along the way.
func (e *Editor) dir(path string) (*edDir, error) {
	names, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	if e.root == nil {
		e.root = &edDir{base: e.base, kids: make(map[string]*edNode)}
	}
	d := e.root
	for i, name := range names {
		k, err := e.get(d, name)
		if err != nil {
			return nil, err
		}
		if k == nil {
			return nil, fmt.Errorf("%s: %w", joinNames(names[:i+1]), ErrNotFound)
		}
		if k.entry.Kind != KindDir {
			return nil, fmt.Errorf("%s: %w", joinNames(names[:i+1]), ErrNotDir)
		}
		if k.dir == nil {
			k.dir = &edDir{base: k.entry.Hash, kids: make(map[string]*edNode)}
			d.kids[name] = k
		}
		d = k.dir
	}
	return d, nil
}

// parent returns the overlay of path's parent directory and path's last name.
func (e *Editor) parent(path string) (*edDir, string, error) {
	par, name, err := splitParent(path)
	if err != nil {
		return nil, "", err
	}
	d, err := e.dir(par)
	if err != nil {
		return nil, "", err
	}
	return d, name, nil
}

// Mkdir creates an empty directory; the parent must exist and path must not (ErrExists).
func (e *Editor) Mkdir(path string, mode uint32) error {
	d, name, err := e.parent(path)
	if err != nil {
		return fmt.Errorf("mkdir %q: %w", path, err)
	}
	if k, err := e.get(d, name); err != nil || k != nil {
		return fmt.Errorf("mkdir %q: %w", path, orExists(err))
	}
	d.kids[name] = &edNode{
		entry: Entry{Name: name, Kind: KindDir, Mode: mode & 0o7777},
		dir:   &edDir{kids: make(map[string]*edNode)},
	}
	return nil
}

func orExists(err error) error {
	if err != nil {
		return err
	}
	return ErrExists
}

// WriteFile creates or updates the regular file at path with the given mode and size.
// changed holds the hash of every leaf whose bytes differ from the file as it stands (the
// base, plus earlier WriteFile calls since the last Commit): every new leaf, and the old last
// leaf when the size changes. Leaves at index >= ceil(size/LeafSize) are dropped. A leaf that
// is neither in the file nor in changed makes Commit fail with ErrMissingLeafHash.
func (e *Editor) WriteFile(path string, mode uint32, size uint64, changed map[uint64]Hash) error {
	for i, h := range changed {
		if h.IsZero() {
			return fmt.Errorf("write %q: leaf %d has the zero hash: %w", path, i, ErrInvalidArgument)
		}
	}
	d, name, err := e.parent(path)
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	k, err := e.get(d, name)
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	leafSize := uint32(e.p.LeafSize)
	switch {
	case k == nil:
		k = &edNode{entry: Entry{Name: name, Kind: KindFile}, file: &edFile{changed: make(map[uint64]Hash, len(changed))}}
	case k.entry.Kind == KindDir:
		return fmt.Errorf("write %q: %w", path, ErrIsDir)
	case k.entry.Kind != KindFile:
		return fmt.Errorf("write %q: %w", path, ErrNotFile)
	case k.file == nil:
		f, err := loadFile(e.l, k.entry.Hash)
		if err != nil {
			return fmt.Errorf("write %q: %w", path, err)
		}
		if f.leafSize != leafSize {
			return fmt.Errorf("write %q: file has leaf size %d, editor %d: %w", path, f.leafSize, leafSize, ErrInvalidArgument)
		}
		n := numLeaves(f.size, f.leafSize)
		k = &edNode{entry: k.entry, file: &edFile{base: leafTree{root: f.root, n: n}, valid: n, changed: make(map[uint64]Hash, len(changed))}}
	}
	f := k.file
	n := numLeaves(size, leafSize)
	for i := range f.changed {
		if i >= n {
			delete(f.changed, i)
		}
	}
	for i, h := range changed {
		if i < n {
			f.changed[i] = h
		}
	}
	f.valid = min(f.valid, n)
	f.size = size
	k.entry.Mode = mode & 0o7777
	k.entry.Size = size
	d.kids[name] = k
	return nil
}

// Symlink creates a symlink at path pointing to target; path must not exist (ErrExists).
func (e *Editor) Symlink(path, target string) error {
	if target == "" || len(target) > MaxSymlinkLen || strings.IndexByte(target, 0) >= 0 {
		return fmt.Errorf("symlink %q: target of %d bytes: %w", path, len(target), ErrInvalidArgument)
	}
	d, name, err := e.parent(path)
	if err != nil {
		return fmt.Errorf("symlink %q: %w", path, err)
	}
	if k, err := e.get(d, name); err != nil || k != nil {
		return fmt.Errorf("symlink %q: %w", path, orExists(err))
	}
	data := encodeSymlink(target)
	h := nodeHash(data)
	if e.pending == nil {
		e.pending = make(map[Hash][]byte)
	}
	e.pending[h] = data
	d.kids[name] = &edNode{entry: Entry{Name: name, Kind: KindSymlink, Mode: SymlinkMode, Size: uint64(len(target)), Hash: h}}
	return nil
}

// Chmod sets the permission bits of the file or directory at path. Symlinks and the root have
// fixed modes (ErrInvalidArgument).
func (e *Editor) Chmod(path string, mode uint32) error {
	d, name, err := e.parent(path)
	if err != nil {
		return fmt.Errorf("chmod %q: %w", path, err)
	}
	k, err := e.get(d, name)
	if err != nil {
		return fmt.Errorf("chmod %q: %w", path, err)
	}
	if k == nil {
		return fmt.Errorf("chmod %q: %w", path, ErrNotFound)
	}
	switch k.entry.Kind {
	case KindSymlink:
		return fmt.Errorf("chmod %q: symlink mode is fixed: %w", path, ErrInvalidArgument)
	case KindFile:
		if k.file == nil {
			// The file node commits to the mode, so it must be rewritten; its leaves are reused.
			f, err := loadFile(e.l, k.entry.Hash)
			if err != nil {
				return fmt.Errorf("chmod %q: %w", path, err)
			}
			n := numLeaves(f.size, f.leafSize)
			if f.leafSize != uint32(e.p.LeafSize) {
				return fmt.Errorf("chmod %q: file has leaf size %d, editor %d: %w", path, f.leafSize, e.p.LeafSize, ErrInvalidArgument)
			}
			k = &edNode{entry: k.entry, file: &edFile{base: leafTree{root: f.root, n: n}, valid: n, size: f.size, changed: map[uint64]Hash{}}}
		}
	}
	k.entry.Mode = mode & 0o7777
	d.kids[name] = k
	return nil
}

// Remove removes the file, symlink or whole directory subtree at path.
func (e *Editor) Remove(path string) error {
	d, name, err := e.parent(path)
	if err != nil {
		return fmt.Errorf("remove %q: %w", path, err)
	}
	k, err := e.get(d, name)
	if err != nil {
		return fmt.Errorf("remove %q: %w", path, err)
	}
	if k == nil {
		return fmt.Errorf("remove %q: %w", path, ErrNotFound)
	}
	d.kids[name] = &edNode{del: true}
	return nil
}

// Rename moves the entry at from to to, replacing what is at to. The subtree is reused by
// hash, so the cost is O(path) whatever its size. A directory cannot replace a non-directory
// (ErrNotDir) nor a file replace a directory (ErrIsDir), and to cannot lie inside from.
func (e *Editor) Rename(from, to string) error {
	if err := ValidatePath(to); err != nil {
		return fmt.Errorf("rename %q to %q: %w", from, to, err)
	}
	if to == from {
		return nil
	}
	if strings.HasPrefix(to, from+"/") || from == "" {
		return fmt.Errorf("rename %q to %q: target inside source: %w", from, to, ErrInvalidArgument)
	}
	fd, fname, err := e.parent(from)
	if err != nil {
		return fmt.Errorf("rename %q to %q: %w", from, to, err)
	}
	src, err := e.get(fd, fname)
	if err != nil {
		return fmt.Errorf("rename %q to %q: %w", from, to, err)
	}
	if src == nil {
		return fmt.Errorf("rename %q to %q: %w", from, to, ErrNotFound)
	}
	td, tname, err := e.parent(to)
	if err != nil {
		return fmt.Errorf("rename %q to %q: %w", from, to, err)
	}
	dst, err := e.get(td, tname)
	if err != nil {
		return fmt.Errorf("rename %q to %q: %w", from, to, err)
	}
	if dst != nil {
		if src.entry.Kind == KindDir && dst.entry.Kind != KindDir {
			return fmt.Errorf("rename %q to %q: %w", from, to, ErrNotDir)
		}
		if src.entry.Kind != KindDir && dst.entry.Kind == KindDir {
			return fmt.Errorf("rename %q to %q: %w", from, to, ErrIsDir)
		}
	}
	moved := *src
	moved.entry.Name = tname
	fd.kids[fname] = &edNode{del: true}
	td.kids[tname] = &moved
	return nil
}

// Commit hashes the edited paths, stores the new nodes (children before parents) and returns
// the new root. The Editor then continues from that root. If Commit fails (a missing leaf hash,
// a store error) the pending edits and the base stay as they were, so the caller may fix the
// cause and commit again; nodes already stored are unreferenced, harmless garbage.
func (e *Editor) Commit() (Hash, error) {
	for h, data := range e.pending {
		if err := e.l.store.PutNode(h, data); err != nil {
			return Hash{}, fmt.Errorf("commit: put symlink %s: %w", h, err)
		}
	}
	e.pending = nil
	if e.root == nil {
		return e.base, nil
	}
	root, _, err := e.commitDir(e.root)
	if err != nil {
		return Hash{}, fmt.Errorf("commit: %w", err)
	}
	e.base, e.root = root, nil
	return root, nil
}

func (e *Editor) commitDir(d *edDir) (Hash, uint64, error) {
	names := make([]string, 0, len(d.kids))
	for name := range d.kids {
		names = append(names, name)
	}
	sort.Strings(names)
	edits := make([]dirEdit, 0, len(names))
	for _, name := range names {
		k := d.kids[name]
		if k.del {
			edits = append(edits, dirEdit{name: name, del: true})
			continue
		}
		ent := k.entry
		switch {
		case k.dir != nil:
			h, c, err := e.commitDir(k.dir)
			if err != nil {
				return Hash{}, 0, err
			}
			ent.Hash, ent.Size = h, c
		case k.file != nil:
			h, err := e.commitFile(k.file, ent.Mode)
			if err != nil {
				return Hash{}, 0, fmt.Errorf("%q: %w", name, err)
			}
			ent.Hash, ent.Size = h, k.file.size
		}
		edits = append(edits, dirEdit{name: name, e: ent})
	}
	base := d.base
	if base.IsZero() {
		var err error
		if base, err = e.l.put(encodeDirLeaf(nil)); err != nil {
			return Hash{}, 0, err
		}
	}
	return applyDir(e.l, base, edits)
}

func (e *Editor) commitFile(f *edFile, mode uint32) (Hash, error) {
	leafSize := uint32(e.p.LeafSize)
	n := numLeaves(f.size, leafSize)
	root, err := updateLeafTree(e.l, f.base, f.valid, n, f.changed)
	if err != nil {
		return Hash{}, err
	}
	return e.l.put(encodeFile(fileNode{mode: mode, size: f.size, leafSize: leafSize, root: root}))
}
