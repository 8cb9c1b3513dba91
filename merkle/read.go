package merkle

import "fmt"

// Lookup returns the entry at path in the tree at root; "" gives the root directory itself
// (Name "", KindDir, Mode RootMode, Size its number of entries, Hash root).
func Lookup(store NodeStore, root Hash, path string) (Entry, error) {
	return lookup(&loader{store: store}, root, path)
}

func lookup(l *loader, root Hash, path string) (Entry, error) {
	names, err := splitPath(path)
	if err != nil {
		return Entry{}, err
	}
	top, err := l.loadDir(root)
	if err != nil {
		return Entry{}, fmt.Errorf("lookup %q: %w", path, err)
	}
	e := Entry{Kind: KindDir, Mode: RootMode, Size: top.dirCount(), Hash: root}
	for i, name := range names {
		if e.Kind != KindDir {
			return Entry{}, fmt.Errorf("lookup %q: %s is a %s: %w", path, joinNames(names[:i]), e.Kind, ErrNotDir)
		}
		if e, err = lookupChild(l, e.Hash, name); err != nil {
			return Entry{}, fmt.Errorf("lookup %q: %w", path, err)
		}
	}
	return e, nil
}

func joinNames(names []string) string {
	p := ""
	for _, n := range names {
		p = joinPath(p, n)
	}
	return p
}

// LookupChild returns the entry name in the directory whose hash is dir, reading O(log n)
// nodes of a large directory. The error wraps ErrNotFound when the name is absent.
func LookupChild(store NodeStore, dir Hash, name string) (Entry, error) {
	if err := ValidateName(name); err != nil {
		return Entry{}, err
	}
	return lookupChild(&loader{store: store}, dir, name)
}

// ReadDir returns every entry of the directory whose hash is dir, sorted by name.
func ReadDir(store NodeStore, dir Hash) ([]Entry, error) {
	out, err := readDir(&loader{store: store}, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("read dir %s: %w", dir, err)
	}
	return out, nil
}

// FileLeaves returns the leaf hashes of the file node file, in order. Leaf i holds bytes
// [i*LeafSize, min(size, (i+1)*LeafSize)); fetch each with NodeStore.GetLeaf.
func FileLeaves(store NodeStore, file Hash) ([]Hash, error) {
	l := &loader{store: store}
	f, err := loadFile(l, file)
	if err != nil {
		return nil, err
	}
	n := numLeaves(f.size, f.leafSize)
	if n == 0 {
		return nil, nil
	}
	out, err := appendLeaves(l, f.root, n, make([]Hash, 0, n))
	if err != nil {
		return nil, fmt.Errorf("file leaves %s: %w", file, err)
	}
	return out, nil
}

// FileInfo returns the mode, size and leaf size a file node commits to.
func FileInfo(store NodeStore, file Hash) (mode uint32, size uint64, leafSize int, err error) {
	f, err := loadFile(&loader{store: store}, file)
	if err != nil {
		return 0, 0, 0, err
	}
	return f.mode, f.size, int(f.leafSize), nil
}

// ReadSymlink returns the target of the symlink object h.
func ReadSymlink(store NodeStore, h Hash) (string, error) {
	n, err := (&loader{store: store}).load(h)
	if err != nil {
		return "", err
	}
	if n.tag != tagSymlink {
		return "", fmt.Errorf("node %s is a %q node, not a symlink: %w", h, n.tag, ErrInvalidArgument)
	}
	return n.target, nil
}

func loadFile(l *loader, h Hash) (fileNode, error) {
	n, err := l.load(h)
	if err != nil {
		return fileNode{}, err
	}
	if n.tag != tagFile {
		return fileNode{}, fmt.Errorf("node %s is a %q node: %w", h, n.tag, ErrNotFile)
	}
	return n.file, nil
}

// EmptyRoot returns the hash of an empty root directory (an empty level-0 directory node).
func EmptyRoot() Hash { return nodeHash(encodeDirLeaf(nil)) }
