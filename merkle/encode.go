package merkle

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"

	"github.com/zeebo/blake3"
)

// dirKid is one child of a directory internal node: the first name in the child's subtree,
// the number of entries in it, and the child node's hash.
type dirKid struct {
	first string
	count uint64
	hash  Hash
}

// fileNode is a decoded file node.
type fileNode struct {
	mode     uint32
	size     uint64
	leafSize uint32
	root     Hash // root of the leaf tree; zero when size == 0
}

// node is a decoded node of any kind; tag says which fields are set.
type node struct {
	tag     byte
	entries []Entry  // tagDirLeaf
	level   int      // tagDirNode: >= 1
	kids    []dirKid // tagDirNode
	file    fileNode // tagFile
	count   uint64   // tagTree: number of leaves below, >= 2
	left    Hash     // tagTree
	right   Hash     // tagTree
	target  string   // tagSymlink
}

// dirCount is the number of entries below a directory node.
func (n *node) dirCount() uint64 {
	if n.tag == tagDirLeaf {
		return uint64(len(n.entries))
	}
	var c uint64
	for _, k := range n.kids {
		c += k.count
	}
	return c
}

// firstName is the first name in a directory node ("" when empty).
func (n *node) firstName() string {
	if n.tag == tagDirLeaf {
		if len(n.entries) == 0 {
			return ""
		}
		return n.entries[0].Name
	}
	return n.kids[0].first
}

func appendName(b []byte, name string) []byte {
	b = append(b, byte(len(name)))
	return append(b, name...)
}

func encodeDirLeaf(entries []Entry) []byte {
	b := make([]byte, 0, 5+len(entries)*64)
	b = append(b, tagDirLeaf)
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = appendName(b, e.Name)
		b = append(b, byte(e.Kind))
		b = binary.BigEndian.AppendUint32(b, e.Mode)
		b = binary.BigEndian.AppendUint64(b, e.Size)
		b = append(b, e.Hash[:]...)
	}
	return b
}

func encodeDirNode(level int, kids []dirKid) []byte {
	b := make([]byte, 0, 6+len(kids)*60)
	b = append(b, tagDirNode, byte(level))
	b = binary.BigEndian.AppendUint32(b, uint32(len(kids)))
	for _, k := range kids {
		b = appendName(b, k.first)
		b = binary.BigEndian.AppendUint64(b, k.count)
		b = append(b, k.hash[:]...)
	}
	return b
}

func encodeFile(f fileNode) []byte {
	b := make([]byte, 0, 49)
	b = append(b, tagFile)
	b = binary.BigEndian.AppendUint32(b, f.mode)
	b = binary.BigEndian.AppendUint64(b, f.size)
	b = binary.BigEndian.AppendUint32(b, f.leafSize)
	return append(b, f.root[:]...)
}

func encodeTree(count uint64, left, right Hash) []byte {
	b := make([]byte, 0, 73)
	b = append(b, tagTree)
	b = binary.BigEndian.AppendUint64(b, count)
	b = append(b, left[:]...)
	return append(b, right[:]...)
}

func encodeSymlink(target string) []byte {
	b := make([]byte, 0, 5+len(target))
	b = append(b, tagSymlink)
	b = binary.BigEndian.AppendUint32(b, uint32(len(target)))
	return append(b, target...)
}

// maxDirLevel bounds a directory tree's height; with a 1/32 split chance per level it is never
// reached by honest trees (it would need 2^320 entries).
const maxDirLevel = 64

// reader decodes fixed-width fields, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	v := r.bytes(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) u32() uint32 {
	v := r.bytes(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *reader) u64() uint64 {
	v := r.bytes(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (r *reader) hash() Hash {
	var h Hash
	copy(h[:], r.bytes(32))
	return h
}

func (r *reader) name() string {
	n := int(r.u8())
	s := string(r.bytes(n))
	if r.err == nil {
		if err := ValidateName(s); err != nil {
			r.err = err
		}
	}
	return s
}

// checkOrder enforces strictly increasing names.
func checkOrder(prev, cur string, i int) error {
	if i == 0 {
		return nil
	}
	if cur == prev {
		return fmt.Errorf("%w: %q", ErrDuplicateName, cur)
	}
	if cur < prev {
		return fmt.Errorf("%w: %q after %q", ErrUnsorted, cur, prev)
	}
	return nil
}

// checkEntry validates an entry's kind and mode as stored in a directory chunk.
func checkEntry(e Entry) error {
	switch e.Kind {
	case KindDir, KindFile:
		if e.Mode&^0o7777 != 0 {
			return fmt.Errorf("%w: %q has mode %#o beyond permission bits", ErrCorrupt, e.Name, e.Mode)
		}
	case KindSymlink:
		if e.Mode != SymlinkMode {
			return fmt.Errorf("%w: symlink %q has mode %#o", ErrCorrupt, e.Name, e.Mode)
		}
		if e.Size == 0 || e.Size > MaxSymlinkLen {
			return fmt.Errorf("%w: symlink %q has size %d", ErrCorrupt, e.Name, e.Size)
		}
	default:
		return fmt.Errorf("%w: %q has kind %d", ErrCorrupt, e.Name, e.Kind)
	}
	return nil
}

// decodeNode decodes and validates a node. It accepts only the canonical encoding: every
// field in range, names valid and strictly increasing, no trailing bytes. It never panics.
func decodeNode(data []byte) (*node, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	r := &reader{b: data[1:]}
	n := &node{tag: data[0]}
	switch n.tag {
	case tagDirLeaf:
		cnt := r.u32()
		if uint64(cnt) > uint64(len(r.b))/46 { // 46 = smallest encoded entry
			return nil, fmt.Errorf("%w: %d entries in %d bytes", ErrCorrupt, cnt, len(r.b))
		}
		n.entries = make([]Entry, 0, cnt)
		for i := 0; i < int(cnt) && r.err == nil; i++ {
			e := Entry{Name: r.name(), Kind: Kind(r.u8()), Mode: r.u32(), Size: r.u64(), Hash: r.hash()}
			if r.err != nil {
				break
			}
			if err := checkOrder(n.lastName(), e.Name, i); err != nil {
				return nil, err
			}
			if err := checkEntry(e); err != nil {
				return nil, err
			}
			n.entries = append(n.entries, e)
		}
	case tagDirNode:
		n.level = int(r.u8())
		cnt := r.u32()
		if r.err == nil && (n.level < 1 || n.level > maxDirLevel) {
			return nil, fmt.Errorf("%w: directory node level %d", ErrCorrupt, n.level)
		}
		if r.err == nil && (cnt == 0 || uint64(cnt) > uint64(len(r.b))/42) {
			return nil, fmt.Errorf("%w: directory node with %d children in %d bytes", ErrCorrupt, cnt, len(r.b))
		}
		n.kids = make([]dirKid, 0, cnt)
		var total uint64
		for i := 0; i < int(cnt) && r.err == nil; i++ {
			k := dirKid{first: r.name(), count: r.u64(), hash: r.hash()}
			if r.err != nil {
				break
			}
			if i > 0 {
				if err := checkOrder(n.kids[i-1].first, k.first, i); err != nil {
					return nil, err
				}
			}
			if k.count == 0 || total+k.count < total {
				return nil, fmt.Errorf("%w: child %q has count %d", ErrCorrupt, k.first, k.count)
			}
			total += k.count
			n.kids = append(n.kids, k)
		}
	case tagFile:
		n.file = fileNode{mode: r.u32(), size: r.u64(), leafSize: r.u32(), root: r.hash()}
		if r.err == nil {
			f := n.file
			switch {
			case f.mode&^0o7777 != 0:
				return nil, fmt.Errorf("%w: file mode %#o", ErrCorrupt, f.mode)
			case f.leafSize == 0 || f.leafSize > MaxLeafSize:
				return nil, fmt.Errorf("%w: leaf size %d", ErrCorrupt, f.leafSize)
			case (f.size == 0) != f.root.IsZero():
				return nil, fmt.Errorf("%w: file of size %d with leaf root %s", ErrCorrupt, f.size, f.root)
			}
		}
	case tagTree:
		n.count = r.u64()
		n.left = r.hash()
		n.right = r.hash()
		if r.err == nil && n.count < 2 {
			return nil, fmt.Errorf("%w: leaf tree node over %d leaves", ErrCorrupt, n.count)
		}
	case tagSymlink:
		l := r.u32()
		if r.err == nil && (l == 0 || l > MaxSymlinkLen) {
			return nil, fmt.Errorf("%w: symlink target of %d bytes", ErrCorrupt, l)
		}
		n.target = string(r.bytes(int(l)))
		if r.err == nil && strings.IndexByte(n.target, 0) >= 0 {
			return nil, fmt.Errorf("%w: symlink target contains NUL", ErrCorrupt)
		}
	default:
		return nil, fmt.Errorf("%w: unknown tag %#x", ErrCorrupt, data[0])
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after %q node", ErrCorrupt, len(r.b), n.tag)
	}
	return n, nil
}

func (n *node) lastName() string {
	if len(n.entries) == 0 {
		return ""
	}
	return n.entries[len(n.entries)-1].Name
}

// isDirNode reports whether the tag is one of the two directory node kinds.
func isDirNode(tag byte) bool { return tag == tagDirLeaf || tag == tagDirNode }

// NodeRefs returns the hashes a stored node refers to: child nodes and leaf data. A garbage
// collector walks these from the live roots.
func NodeRefs(data []byte) (nodes, leaves []Hash, err error) {
	n, err := decodeNode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("node refs: %w", err)
	}
	switch n.tag {
	case tagDirLeaf:
		for _, e := range n.entries {
			nodes = append(nodes, e.Hash)
		}
	case tagDirNode:
		for _, k := range n.kids {
			nodes = append(nodes, k.hash)
		}
	case tagFile:
		switch numLeaves(n.file.size, n.file.leafSize) {
		case 0:
		case 1:
			leaves = append(leaves, n.file.root)
		default:
			nodes = append(nodes, n.file.root)
		}
	case tagTree:
		l := splitCount(n.count)
		for _, c := range []struct {
			h Hash
			n uint64
		}{{n.left, l}, {n.right, n.count - l}} {
			if c.n == 1 {
				leaves = append(leaves, c.h)
			} else {
				nodes = append(nodes, c.h)
			}
		}
	}
	return nodes, leaves, nil
}

// splitCount is the size of the left subtree of a leaf tree over n >= 2 leaves: the largest
// power of two strictly less than n (RFC 6962).
func splitCount(n uint64) uint64 {
	return uint64(1) << (bits.Len64(n-1) - 1)
}

// height is the level up to which an entry's name closes directory chunks: the entry ends a
// chunk at level k (k >= 0) exactly when height(name) > k. It is the number of whole 5-bit
// groups of trailing zero bits of BLAKE3('B' || name) read as a little-endian uint64, so each
// level splits with probability 1/32 and the shape depends only on the set of names.
func height(name string) int {
	var buf [1 + MaxNameLen]byte
	buf[0] = 'B'
	n := copy(buf[1:], name)
	sum := blake3.Sum256(buf[:1+n])
	return bits.TrailingZeros64(binary.LittleEndian.Uint64(sum[:8])) / 5
}
