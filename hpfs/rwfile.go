package hpfs

import (
	"syscall"

	"github.com/hpfs/hpnode/merkle"
)

// fileData is the content of one regular file in an rw session: the base file's leaves plus the
// leaves written in this session. Leaves are hashed at commit, not on write: a 5-byte write must
// not cost a 64 KiB hash.
//
// Invariants (ls = leaf size):
//   - leaf i holds bytes [i*ls, min(size, (i+1)*ls)).
//   - dirty[i], when present, is leaf i's bytes up to len(dirty[i]); bytes past that are zero.
//   - a leaf that is not dirty is the base leaf i when i < baseValid, otherwise all zero.
//   - baseValid ≤ len(baseLeaves) once the base leaves are loaded; it only shrinks.
type fileData struct {
	baseHash   merkle.Hash // the file node in the base tree; zero for a file created here
	baseLeaves []merkle.Hash
	loaded     bool // baseLeaves is loaded
	baseValid  uint64
	size       uint64
	dirty      map[uint64][]byte

	// lastLeaf caches the last base leaf read: sequential reads hit one leaf many times.
	lastIdx  uint64
	lastData []byte
}

func newFileData(base merkle.Hash, size uint64, ls int) *fileData {
	return &fileData{baseHash: base, size: size, baseValid: ceilDiv(size, uint64(ls)), dirty: map[uint64][]byte{},
		lastIdx: ^uint64(0)}
}

func newEmptyFile() *fileData {
	return &fileData{loaded: true, dirty: map[uint64][]byte{}, lastIdx: ^uint64(0)}
}

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }

// leafLen is the length of leaf i at the current size.
func (f *fileData) leafLen(i uint64, ls uint64) uint64 {
	start := i * ls
	if start >= f.size {
		return 0
	}
	return min(f.size-start, ls)
}

func (f *fileData) loadBase(store merkle.NodeStore) error {
	if f.loaded {
		return nil
	}
	leaves, err := merkle.FileLeaves(store, f.baseHash)
	if err != nil {
		return err
	}
	f.baseLeaves, f.loaded = leaves, true
	f.baseValid = min(f.baseValid, uint64(len(leaves)))
	return nil
}

// baseLeaf returns base leaf i (i < baseValid).
func (f *fileData) baseLeaf(store merkle.NodeStore, i uint64) ([]byte, error) {
	if i == f.lastIdx {
		return f.lastData, nil
	}
	if err := f.loadBase(store); err != nil {
		return nil, err
	}
	if i >= f.baseValid {
		return nil, nil
	}
	data, err := store.GetLeaf(f.baseLeaves[i])
	if err != nil {
		return nil, err
	}
	f.lastIdx, f.lastData = i, data
	return data, nil
}

// materialize makes leaf i dirty, holding its current bytes (at most keep bytes of them).
func (f *fileData) materialize(store merkle.NodeStore, i uint64, keep uint64) error {
	if _, ok := f.dirty[i]; ok {
		return nil
	}
	var buf []byte
	if i < f.baseValid {
		data, err := f.baseLeaf(store, i)
		if err != nil {
			return err
		}
		n := min(uint64(len(data)), keep)
		buf = append(make([]byte, 0, n), data[:n]...)
	}
	f.dirty[i] = buf
	return nil
}

// setSize truncates or extends the file. The leaf holding the old end and the one holding the
// new end become dirty, so a shrink can never leave a stale leaf hash behind (HotPocket bug B1)
// and a grow exposes zeros, not old base bytes.
func (f *fileData) setSize(store merkle.NodeStore, size uint64, ls uint64) error {
	if size == f.size {
		return nil
	}
	if err := f.loadBase(store); err != nil {
		return err
	}
	if size < f.size {
		if size%ls != 0 {
			i := size / ls
			if err := f.materialize(store, i, size-i*ls); err != nil {
				return err
			}
			if b := f.dirty[i]; uint64(len(b)) > size-i*ls {
				f.dirty[i] = b[:size-i*ls]
			}
		}
		n := ceilDiv(size, ls)
		for i := range f.dirty {
			if i >= n {
				delete(f.dirty, i)
			}
		}
		f.baseValid = min(f.baseValid, size/ls)
	} else if f.size%ls != 0 {
		i := f.size / ls
		if err := f.materialize(store, i, f.size-i*ls); err != nil {
			return err
		}
		f.baseValid = min(f.baseValid, f.size/ls)
	}
	f.size = size
	f.lastIdx, f.lastData = ^uint64(0), nil
	return nil
}

// read copies bytes at off into dest and returns how many (short only at end of file).
func (f *fileData) read(store merkle.NodeStore, dest []byte, off uint64, ls uint64) (int, error) {
	if off >= f.size {
		return 0, nil
	}
	end := min(f.size, off+uint64(len(dest)))
	n := 0
	for pos := off; pos < end; {
		i := pos / ls
		inLeaf := pos - i*ls
		chunk := min(end-pos, ls-inLeaf)
		out := dest[n : n+int(chunk)]
		var src []byte
		if b, ok := f.dirty[i]; ok {
			src = b
		} else if i < f.baseValid {
			data, err := f.baseLeaf(store, i)
			if err != nil {
				return n, err
			}
			src = data
		}
		c := 0
		if inLeaf < uint64(len(src)) {
			c = copy(out, src[inLeaf:])
		}
		clear(out[c:])
		n += int(chunk)
		pos += chunk
	}
	return n, nil
}

// write stores data at off, growing the file as needed.
func (f *fileData) write(store merkle.NodeStore, data []byte, off uint64, ls uint64) error {
	end := off + uint64(len(data))
	if end < off {
		return syscall.EFBIG
	}
	if end > f.size {
		if err := f.setSize(store, end, ls); err != nil {
			return err
		}
	}
	f.lastIdx, f.lastData = ^uint64(0), nil
	for pos := off; pos < end; {
		i := pos / ls
		inLeaf := pos - i*ls
		chunk := min(end-pos, ls-inLeaf)
		buf, ok := f.dirty[i]
		if !ok {
			// A write covering the whole leaf needs none of its old bytes.
			if inLeaf == 0 && chunk == f.leafLen(i, ls) {
				buf = nil
			} else if err := f.materialize(store, i, ls); err != nil {
				return err
			} else {
				buf = f.dirty[i]
			}
		}
		need := inLeaf + chunk
		if uint64(len(buf)) < need {
			if uint64(cap(buf)) < need {
				nb := make([]byte, len(buf), max(need, min(ls, uint64(2*cap(buf)))))
				copy(nb, buf)
				buf = nb
			}
			old := len(buf)
			buf = buf[:need]
			if uint64(old) < inLeaf {
				clear(buf[old:inLeaf]) // a gap between the old data end and this write reads as zero
			}
		}
		copy(buf[inLeaf:need], data[pos-off:pos-off+chunk])
		f.dirty[i] = buf
		pos += chunk
	}
	return nil
}
