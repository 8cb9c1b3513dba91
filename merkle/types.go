package merkle

import "fmt"

// Kind is the type of a directory entry.
type Kind uint8

// Entry kinds. The values are part of the hashed byte layout.
const (
	KindDir     Kind = 1
	KindFile    Kind = 2
	KindSymlink Kind = 3
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindDir:
		return "dir"
	case KindFile:
		return "file"
	case KindSymlink:
		return "symlink"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// SymlinkMode is the mode every symlink entry carries: symlink permissions are not used by Linux.
const SymlinkMode = 0o777

// RootMode is the mode Lookup reports for the root directory, which has no parent entry.
const RootMode = 0o755

// MaxSymlinkLen is the longest allowed symlink target in bytes (PATH_MAX - 1).
const MaxSymlinkLen = 4095

// Entry is one name in a directory: exactly what the directory hash commits to.
type Entry struct {
	Name string
	Kind Kind
	// Mode holds permission bits only (mode & 0o7777); SymlinkMode for symlinks.
	Mode uint32
	// Size is, for a file, its length in bytes; for a symlink, len(target); for a directory,
	// its number of entries.
	Size uint64
	// Hash is the child's hash: its directory top node, file node or symlink node.
	Hash Hash
}

// Params are the tree parameters. Every node of a cluster must use the same.
type Params struct {
	// LeafSize is the number of file bytes per leaf.
	LeafSize int
}

// MaxLeafSize bounds Params.LeafSize so a leaf always fits a single store value comfortably.
const MaxLeafSize = 16 << 20

// DefaultParams returns 64 KiB leaves.
func DefaultParams() Params { return Params{LeafSize: 64 << 10} }

// Validate checks the parameters.
func (p Params) Validate() error {
	if p.LeafSize < 1 || p.LeafSize > MaxLeafSize {
		return fmt.Errorf("%w: Params.LeafSize %d not in [1, %d]", ErrInvalidArgument, p.LeafSize, MaxLeafSize)
	}
	return nil
}

// numLeaves is ceil(size/leafSize): the number of leaves of a file.
func numLeaves(size uint64, leafSize uint32) uint64 {
	if size == 0 {
		return 0
	}
	return (size-1)/uint64(leafSize) + 1
}

// leafLen is the number of bytes of leaf i of a file of the given size.
func leafLen(size uint64, leafSize uint32, i uint64) uint64 {
	off := i * uint64(leafSize)
	if size-off < uint64(leafSize) {
		return size - off
	}
	return uint64(leafSize)
}
