package hpfs

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// arenaChunk is the size of one arena chunk: two transparent huge pages.
const arenaChunk = 2 * hugePage

// arena holds the bytes of a session's in-memory writes (slot memory extents). A small file's
// write copied into a fresh heap object costs a page fault per 4 KiB the first time the heap
// grows there (measured: a third of the daemon's CPU of creating 20,000 4 KiB files went to
// bytes.Clone); the arena copies into chunks backed by huge pages where the kernel allows it
// (one fault per 2 MiB) and keeps them for the next session on the same tree.
//
// Invariant: bytes handed out stay unchanged until reset, and reset is called only when no
// slot of the session is used again (the session ended: its slots are dropped or rebased to
// clean leaves, and the commit's overlay is gone). The chunks are at most the session's memory
// budget (scratch.memLimit) plus one chunk, and live as long as the scratch.
type arena struct {
	chunks [][]byte
	cur    int // chunk being filled
	off    int // bytes of chunks[cur] handed out
	used   uint64
}

// clone returns a copy of b in the arena. len(b) must not exceed arenaChunk.
func (a *arena) clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(a.chunks) == 0 || a.off+len(b) > arenaChunk {
		if len(a.chunks) > 0 {
			a.used += uint64(arenaChunk - a.off) // the tail left unused counts as spent
			a.cur++
		}
		if a.cur == len(a.chunks) {
			a.chunks = append(a.chunks, newArenaChunk())
		}
		a.off = 0
	}
	c := a.chunks[a.cur][a.off : a.off+len(b) : a.off+len(b)]
	copy(c, b)
	a.off += len(b)
	a.used += uint64(len(b))
	return c
}

// reset makes every chunk reusable from the start; see the invariant above.
func (a *arena) reset() {
	a.cur, a.off, a.used = 0, 0, 0
}

// release drops the chunks (the scratch is closed for good).
func (a *arena) release() {
	a.chunks = nil
	a.reset()
}

// newArenaChunk returns arenaChunk bytes aligned to a huge page and advised to use huge pages
// (advice only: without transparent huge pages the chunk works the same, one fault per page).
func newArenaChunk() []byte {
	raw := make([]byte, arenaChunk+hugePage)
	off := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	c := raw[off : off+arenaChunk : off+arenaChunk]
	_ = unix.Madvise(c, unix.MADV_HUGEPAGE)
	return c
}
