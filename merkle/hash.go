package merkle

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// Hash is a BLAKE3-256 digest: the name of every object in the tree.
type Hash [32]byte

// String returns the lowercase hex form of h.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the all-zero hash (used for "absent").
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash parses the 64-character lowercase or uppercase hex form of a Hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("parse hash %q: want %d hex digits, got %d", s, 2*len(h), len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("parse hash %q: %w", s, err)
	}
	return h, nil
}

// Domain tags: the first byte of every hashed object. Distinct tags make it impossible for
// the bytes of one kind of object to be read as another kind with the same hash.
const (
	tagLeaf    = 'L' // leaf data: 'L' || data
	tagDirLeaf = 'D' // directory chunk of entries
	tagDirNode = 'I' // directory internal node (children are chunks or internal nodes)
	tagFile    = 'F' // file node
	tagTree    = 'T' // internal node of a file's leaf tree
	tagSymlink = 'S' // symlink object
)

// LeafHash is the hash of one leaf's bytes: BLAKE3('L' || data). Callers (hpfs) hash dirty
// leaves themselves, in parallel, and hand the hashes to Editor.WriteFile.
func LeafHash(data []byte) Hash {
	h := blake3.New()
	_, _ = h.Write([]byte{tagLeaf})
	_, _ = h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// nodeHash is the hash of an encoded node. The encoding starts with the node's domain tag.
func nodeHash(node []byte) Hash { return Hash(blake3.Sum256(node)) }
