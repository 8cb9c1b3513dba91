package hpfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hpfs/hpnode/merkle"
)

// scratch holds the dirty leaf bytes of an rw session: small ones in memory (see slot), the rest
// in an unlinked file, one leaf-sized place per spilled leaf: writes go to the kernel page cache
// (as a loopback's would) instead of freshly faulted Go heap, and a crash leaves nothing behind. It is not synced: the session is not
// durable by design, only a commit is.
type scratch struct {
	f    *os.File
	dir  string // where f was created (reset creates the next file there)
	ls   uint64
	next int64
	mem  uint64 // bytes held in slots' memory extents
	// reserved is the end of the file's preallocated blocks (reserve): next <= reserved after
	// every spill while fallocate works, and 0 after reset.
	reserved int64
	// reserveStep is how far ahead spill preallocates (reserveAhead; tests lower it).
	reserveStep int64
	// memLimit bounds mem (maxMemBytes; tests lower it to exercise spilling).
	memLimit uint64
	m        []byte // read-only mapping of [0, next) made at commit; nil otherwise
	closed   bool   // the file is closed: a tree whose scratch is closed is not kept
	// drops, when set, owns the background goroutines that free the files of ended sessions
	// (dropFile); the Daemon waits for it before unmounting. Nil frees them in the caller.
	drops *sync.WaitGroup
	// pre hashes leaves filled by writes in the background (rwprehash.go).
	pre prehasher
	// arena holds the memory extents' bytes; its use counts against memLimit too, since a
	// forgotten extent's bytes are not reused before reset.
	arena arena
}

func newScratch(dir string, ls uint64) (*scratch, error) {
	f, err := newScratchFile(dir)
	if err != nil {
		return nil, err
	}
	return &scratch{f: f, dir: dir, ls: ls, memLimit: maxMemBytes, reserveStep: reserveAhead}, nil
}

// newScratchFile creates an unlinked file in dir: a crash leaves nothing behind.
func newScratchFile(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, ".rw-scratch-*")
	if err != nil {
		return nil, fmt.Errorf("rw scratch: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("rw scratch: %w", err)
	}
	return f, nil
}

// reserveAhead is how much of the scratch file spill preallocates at a time. A write into
// preallocated blocks skips the filesystem's per-block delayed-allocation bookkeeping (ext4:
// space and quota reservation, extent-status inserts; ext4's write path was 17% of the
// daemon's CPU on 128 KiB writes, about half of it that bookkeeping): seq's write phase took
// 0.144 s → 0.126 s (medians of 6 paired runs).
const reserveAhead = 64 << 20

// reserve preallocates the scratch file up to past end, beyond its size (FALLOC_FL_KEEP_SIZE:
// reads and the commit mapping see no difference). It is only an optimization: a filesystem
// without fallocate, or one that is full, leaves the blocks to be allocated on write, where a
// full disk fails the write with a clear error as before.
func (s *scratch) reserve(end int64) {
	if end <= s.reserved {
		return
	}
	n := max(s.reserveStep, end-s.reserved)
	if err := unix.Fallocate(int(s.f.Fd()), unix.FALLOC_FL_KEEP_SIZE, s.reserved, n); err != nil {
		return
	}
	s.reserved += n
}

// alloc returns a new, empty slot. It holds its bytes in memory until it spills (see write).
func (s *scratch) alloc() *slot {
	return &slot{off: -1}
}

// mapAll maps the whole scratch file read-only so commit can hash and store leaves without
// copying them to the heap first. The mapping lives until close or the next mapAll. It is not
// populated as a whole: slots are leaf-sized, so a state of many small files is mostly holes
// that nothing reads (see populate).
func (s *scratch) mapAll() error {
	s.unmap()
	if s.next == 0 {
		return nil
	}
	// Mapped pages past the end of the file would fault; the never-written tail is a hole.
	if err := s.f.Truncate(s.next); err != nil {
		return fmt.Errorf("rw scratch size: %w", err)
	}
	m, err := unix.Mmap(int(s.f.Fd()), 0, int(s.next), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("rw scratch mmap: %w", err)
	}
	s.m = m
	return nil
}

// populateMin is the leaf length from which populate faults a leaf's pages in with one call:
// below it the one or two page faults of reading it cost no more than the call.
const populateMin = 16 << 10

// populate faults in the pages of b, a slice of the mapping, with one madvise instead of one
// page fault per 4 KiB (measured: the commit of 1,024 dirty 64 KiB leaves 1.6 s → 0.7 s here).
// It is advice: on a kernel without MADV_POPULATE_READ the pages fault in as they are read.
func (s *scratch) populate(b []byte) {
	if len(b) >= populateMin {
		_ = unix.Madvise(b, unix.MADV_POPULATE_READ)
	}
}

func (s *scratch) unmap() {
	if s.m != nil {
		_ = unix.Munmap(s.m)
		s.m = nil
	}
}

// reset empties the scratch for the next session on the same tree: slots start over at offset
// 0 in a fresh file, and the last session's file, with its pages and its commit mapping, is
// freed off the caller's path (dropFile): truncating a file of 100 MiB of cached pages took a
// fifth of that commit's CPU. A session that spilled nothing keeps its (empty) file.
func (s *scratch) reset() error {
	s.stopPrehash()
	s.mem, s.reserved = 0, 0
	s.arena.reset()
	if s.next == 0 && s.m == nil {
		return nil
	}
	s.next = 0
	nf, err := newScratchFile(s.dir)
	if err != nil {
		s.unmap()
		if terr := s.f.Truncate(0); terr != nil {
			return fmt.Errorf("rw scratch reset: %w", errors.Join(err, terr))
		}
		return nil
	}
	s.dropFile(s.f, s.m)
	s.f, s.m = nf, nil
	return nil
}

// dropFile unmaps m and closes f, an unlinked file no slot refers to any more: the kernel frees
// its pages and blocks then. It runs in the background when the scratch has a drops group.
func (s *scratch) dropFile(f *os.File, m []byte) {
	drop := func() {
		if m != nil {
			_ = unix.Munmap(m)
		}
		_ = f.Close()
	}
	if s.drops == nil {
		drop()
		return
	}
	s.drops.Add(1)
	go func() {
		defer s.drops.Done()
		drop()
	}()
}

func (s *scratch) close() error {
	s.stopPrehash()
	s.arena.release()
	if s.closed {
		return nil
	}
	s.closed = true
	m := s.m
	s.m = nil
	s.dropFile(s.f, m)
	return nil
}

// slot is one dirty leaf of an rw session: its first n bytes are the leaf's. A slot starts in
// memory, as the list of writes made to it (ext, applied in order: a later write wins where
// they overlap; bytes no write covered are zero), and spills to its own leaf-sized place in the
// scratch file (off) once the list passes maxExtents writes or maxExtentBytes bytes, or the
// session's memory budget is spent. Small files and a few bytes written into holes thus cost
// no system call, neither on write nor at commit; a leaf written whole goes to the file, where
// commit reads it through a mapping without copying it.
//
// Bytes past hw (the most ever written) are zero; bytes in [n, hw) are stale (left by a
// truncate) and must not be exposed: reads stop at n, and a write past n first zeroes them.
type slot struct {
	off     int64 // file offset once spilled (many); -1 before
	n       uint64
	hw      uint64
	ext     []memExtent
	extSize uint64
	many    bool // spilled to the file

	// gen counts the changes to the slot's bytes and length; pre is the leaf hash the
	// prehasher computed at gen preGen (0: none), and preRaw whether those bytes are stored
	// raw (encodeSparse returned nil). See rwprehash.go.
	gen    atomic.Uint64
	pre    merkle.Hash
	preRaw bool
	preGen uint64
	queued atomic.Bool // waiting in the prehasher's queue
}

// memExtent is one write held in memory: b at offset at of the slot.
type memExtent struct {
	at uint64
	b  []byte
}

// extent is a byte range [at, at+n) of a leaf.
type extent struct{ at, n uint64 }

// maxExtents and maxExtentBytes bound the writes a slot keeps in memory; maxMemBytes bounds
// all slots of a session.
const (
	maxExtents     = 16
	maxExtentBytes = 16 << 10
	maxMemBytes    = 64 << 20
)

func (s *scratch) write(sl *slot, data []byte, at uint64) error {
	sl.gen.Add(1) // before the bytes change: see rwprehash.go
	if !sl.many {
		n := uint64(len(data))
		if len(sl.ext) < maxExtents && sl.extSize+n <= maxExtentBytes && s.mem+n <= s.memLimit &&
			s.arena.used+n <= s.memLimit {
			sl.ext = append(sl.ext, memExtent{at: at, b: s.arena.clone(data)})
			sl.extSize += n
			s.mem += n
			return nil
		}
		if err := s.spill(sl); err != nil {
			return err
		}
	}
	if _, err := s.f.WriteAt(data, sl.off+int64(at)); err != nil {
		return fmt.Errorf("rw scratch write: %w", err)
	}
	return nil
}

// spill gives sl its place in the file and writes its memory extents there, in order.
func (s *scratch) spill(sl *slot) error {
	sl.off = s.next
	s.next += int64(s.ls)
	s.reserve(s.next)
	for _, e := range sl.ext {
		if _, err := s.f.WriteAt(e.b, sl.off+int64(e.at)); err != nil {
			return fmt.Errorf("rw scratch write: %w", err)
		}
	}
	s.forget(sl)
	sl.many = true
	return nil
}

// forget drops a slot's memory extents from the session's budget (spilled or deleted slot).
func (s *scratch) forget(sl *slot) {
	s.mem -= sl.extSize
	sl.ext, sl.extSize = nil, 0
}

// nonzeroRuns returns the non-zero ranges of data at sparseBlock granularity when they fit a
// slot's extent list (maxExtents ranges, maxExtentBytes bytes), and false otherwise.
func nonzeroRuns(data []byte) ([]extent, bool) {
	var runs []extent
	total := uint64(0)
	for off := 0; off < len(data); off += sparseBlock {
		end := min(off+sparseBlock, len(data))
		if bytes.Equal(data[off:end], zeroBlock[:end-off]) {
			continue
		}
		if total += uint64(end - off); total > maxExtentBytes {
			return nil, false
		}
		if k := len(runs); k > 0 && runs[k-1].at+runs[k-1].n == uint64(off) {
			runs[k-1].n += uint64(end - off)
			continue
		}
		if len(runs) == maxExtents-1 { // leave room for the write that materializes the leaf
			return nil, false
		}
		runs = append(runs, extent{uint64(off), uint64(end - off)})
	}
	return runs, true
}

// applyExtents copies the parts of sl's memory extents that fall in [at, at+len(dest)) and
// below valid into dest (which the caller zeroed), in write order.
func applyExtents(sl *slot, dest []byte, at, valid uint64) {
	end := min(at+uint64(len(dest)), valid)
	for _, e := range sl.ext {
		lo, hi := max(e.at, at), min(e.at+uint64(len(e.b)), end)
		if lo < hi {
			copy(dest[lo-at:hi-at], e.b[lo-e.at:hi-e.at])
		}
	}
}

// sparseInto fills buf (zeroed, the leaf's length) with the slot's bytes from its memory
// extents, clipped to the slot's valid length; false when the slot has spilled.
func (s *scratch) sparseInto(sl *slot, buf []byte) (bool, error) {
	if sl.many {
		return false, nil
	}
	applyExtents(sl, buf, 0, min(sl.n, uint64(len(buf))))
	return true, nil
}

// whole returns the slot's first n bytes without a copy when one memory extent holds them all.
func (sl *slot) whole(n uint64) ([]byte, bool) {
	if sl.many || sl.n < n || len(sl.ext) != 1 || sl.ext[0].at != 0 || uint64(len(sl.ext[0].b)) < n {
		return nil, false
	}
	return sl.ext[0].b[:n:n], true
}

// read fills dest from the slot at offset at; bytes past the slot's length read as zero.
func (s *scratch) read(sl *slot, dest []byte, at uint64) error {
	c := 0
	if at < sl.n {
		c = int(min(uint64(len(dest)), sl.n-at))
		if sl.many {
			if _, err := s.f.ReadAt(dest[:c], sl.off+int64(at)); err != nil {
				return fmt.Errorf("rw scratch read: %w", err)
			}
		} else {
			clear(dest[:c])
			applyExtents(sl, dest[:c], at, sl.n)
		}
	}
	clear(dest[c:])
	return nil
}

// fileData is the content of one regular file in an rw session: the base file's leaves plus the
// leaves written in this session. Leaves are hashed at commit, not on write: a 5-byte write must
// not cost a 64 KiB hash.
//
// Invariants (ls = leaf size):
//   - leaf i holds bytes [i*ls, min(size, (i+1)*ls)).
//   - dirty[i], when present, holds leaf i's first dirty[i].n bytes; bytes past that are zero.
//   - a leaf that is not dirty is the base leaf i when i < baseValid, otherwise all zero.
//   - baseValid ≤ len(baseLeaves) once the base leaves are loaded; it only shrinks.
type fileData struct {
	sc         *scratch
	baseHash   merkle.Hash // the file node in the base tree; zero for a file created here
	baseLeaves []merkle.Hash
	loaded     bool // baseLeaves is loaded
	baseValid  uint64
	size       uint64
	dirty      map[uint64]*slot

	// lastLeaf caches the last base leaf read: sequential reads hit one leaf many times.
	lastIdx  uint64
	lastData []byte
}

func newFileData(sc *scratch, base merkle.Hash, size uint64, ls int) *fileData {
	return &fileData{sc: sc, baseHash: base, size: size, baseValid: ceilDiv(size, uint64(ls)), dirty: map[uint64]*slot{},
		lastIdx: ^uint64(0)}
}

func newEmptyFile(sc *scratch) *fileData {
	return &fileData{sc: sc, loaded: true, dirty: map[uint64]*slot{}, lastIdx: ^uint64(0)}
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

// baseLeaf returns base leaf i (i < baseValid). The bytes must not be modified.
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
	sl := f.sc.alloc()
	if i < f.baseValid {
		data, err := f.baseLeaf(store, i)
		if err != nil {
			return err
		}
		n := min(uint64(len(data)), keep)
		// A fresh slot reads as zero: copying only the non-zero runs of a mostly-zero base
		// leaf keeps its extent list short, so the commit reads back those runs, not 64 KiB.
		if runs, ok := nonzeroRuns(data[:n]); ok {
			for _, r := range runs {
				if err := f.sc.write(sl, data[r.at:r.at+r.n], r.at); err != nil {
					return err
				}
			}
		} else if err := f.sc.write(sl, data[:n], 0); err != nil {
			return err
		}
		sl.n, sl.hw = n, n
	}
	f.dirty[i] = sl
	return nil
}

// leafBytes returns leaf i's exact bytes (for hashing at commit): the slot's one memory write or
// a slice of the scratch mapping when either holds the whole leaf, else a zero-padded copy. A
// mapped leaf is faulted in ahead only when populate is set: a leaf the commit may never read (a
// prehashed raw leaf whose bytes another leaf already stores) should cost no page faults.
func (f *fileData) leafBytes(i uint64, ls uint64, populate bool) ([]byte, error) {
	sl, want := f.dirty[i], f.leafLen(i, ls)
	if w, ok := sl.whole(want); ok {
		return w, nil
	}
	if sl.many && f.sc.m != nil && (sl.n >= want || sl.hw <= sl.n) {
		b := f.sc.m[sl.off : sl.off+int64(want) : sl.off+int64(want)]
		if populate {
			f.sc.populate(b)
		}
		return b, nil
	}
	data := make([]byte, want)
	if err := f.sc.read(sl, data, 0); err != nil {
		return nil, err
	}
	return data, nil
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
			if sl := f.dirty[i]; sl.n > size-i*ls {
				sl.gen.Add(1)
				sl.n = size - i*ls
			}
		}
		n := ceilDiv(size, ls)
		for i, sl := range f.dirty {
			if i >= n {
				f.sc.forget(sl)
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
		if sl, ok := f.dirty[i]; ok {
			if err := f.sc.read(sl, out, inLeaf); err != nil {
				return n, err
			}
		} else {
			var src []byte
			if i < f.baseValid {
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
		}
		n += int(chunk)
		pos += chunk
	}
	return n, nil
}

// zeros is a source of zero bytes for filling gaps in scratch slots.
var zeros = make([]byte, 64<<10)

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
		sl, ok := f.dirty[i]
		if !ok {
			// A write covering the whole leaf needs none of its old bytes.
			if inLeaf == 0 && chunk == f.leafLen(i, ls) {
				sl = f.sc.alloc()
				f.dirty[i] = sl
			} else if err := f.materialize(store, i, ls); err != nil {
				return err
			} else {
				sl = f.dirty[i]
			}
		}
		// Bytes between the slot's end and this write must read as zero: a hole already does,
		// stale bytes left by a truncate are overwritten.
		for stale := min(inLeaf, sl.hw); sl.n < stale; {
			z := min(stale-sl.n, uint64(len(zeros)))
			if err := f.sc.write(sl, zeros[:z], sl.n); err != nil {
				return err
			}
			sl.n += z
		}
		if err := f.sc.write(sl, data[pos-off:pos-off+chunk], inLeaf); err != nil {
			return err
		}
		sl.n = max(sl.n, inLeaf+chunk)
		sl.hw = max(sl.hw, sl.n)
		if inLeaf+chunk == ls && sl.n == ls {
			f.sc.prehash(sl) // filled to its end: likely written for good
		}
		pos += chunk
	}
	return nil
}
