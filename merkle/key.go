package merkle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Key is a canonical position in the depth-first order of a tree: each name of a path followed
// by 0x00 ("" is the root directory), and for leaf i of a file, the file's key, 0x00 and i as
// 8 big-endian bytes. A name is never empty, so the 0x00 after a terminator cannot start a
// child name: a directory's subtree is the interval of keys with its key as prefix, ordered
// right after the directory, and a file's leaves follow the file.
//
// In a range, a nil Key as the end means "to the end of the key space"; the root's key is the
// empty, non-nil Key{}.
type Key []byte

// KeyOf returns the key of the directory, file or symlink at path.
func KeyOf(path string) (Key, error) {
	names, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	k := make(Key, 0, len(path)+1)
	for _, n := range names {
		k = append(append(k, n...), 0)
	}
	return k, nil
}

// LeafKey returns the key of leaf i of the file at path.
func LeafKey(path string, i uint64) (Key, error) {
	if path == "" {
		return nil, fmt.Errorf("leaf key: the root is not a file: %w", ErrInvalidName)
	}
	k, err := KeyOf(path)
	if err != nil {
		return nil, err
	}
	return leafKey(k, i), nil
}

func leafKey(file Key, i uint64) Key {
	k := make(Key, 0, len(file)+9)
	k = append(append(k, file...), 0)
	return binary.BigEndian.AppendUint64(k, i)
}

// childKey is the key of name inside the directory with key dir.
func childKey(dir Key, name string) Key {
	k := make(Key, 0, len(dir)+len(name)+1)
	return append(append(append(k, dir...), name...), 0)
}

// String renders the key as a path, with "#i" for a leaf; invalid keys are shown quoted.
func (k Key) String() string {
	if k == nil {
		return "<end>"
	}
	var b strings.Builder
	rest := []byte(k)
	for len(rest) > 0 {
		if rest[0] == 0 && len(rest) == 9 {
			fmt.Fprintf(&b, "#%d", binary.BigEndian.Uint64(rest[1:]))
			return b.String()
		}
		i := bytes.IndexByte(rest, 0)
		if i <= 0 {
			return fmt.Sprintf("%q", []byte(k))
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.Write(rest[:i])
		rest = rest[i+1:]
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// succ is the smallest key greater than every key with prefix k (k non-empty, ends in 0x00).
func prefixEnd(k Key) Key {
	e := append(Key(nil), k...)
	e[len(e)-1]++
	return e
}

// next is the smallest key greater than k.
func next(k Key) Key { return append(append(Key(nil), k...), 0) }

// KeyRange is an inclusive range of keys still to fetch. A nil End is the end of the key space.
// Base, when non-zero, is a root whose tree the local store already holds over this range: the
// range can be fetched as a change proof from Base instead of a range proof.
type KeyRange struct {
	Start Key
	End   Key
	Base  Hash
}

// String renders the range.
func (r KeyRange) String() string { return fmt.Sprintf("[%s, %s]", r.Start, r.End) }

// span is a half-open interval [lo, hi) of keys; hi nil means unbounded.
type span struct{ lo, hi Key }

// bounds is an inclusive range [start, end]; end nil means unbounded.
type bounds struct{ start, end Key }

func (b bounds) meets(s span) bool {
	return (b.end == nil || bytes.Compare(s.lo, b.end) <= 0) && (s.hi == nil || bytes.Compare(s.hi, b.start) > 0)
}

func (b bounds) has(k Key) bool {
	return bytes.Compare(k, b.start) >= 0 && (b.end == nil || bytes.Compare(k, b.end) <= 0)
}

// checkRange validates a requested range; a nil start is the beginning of the key space.
func checkRange(start, end Key) error {
	if end != nil && bytes.Compare(start, end) > 0 {
		return fmt.Errorf("%w: start %s after end %s", ErrBadRange, start, end)
	}
	return nil
}
