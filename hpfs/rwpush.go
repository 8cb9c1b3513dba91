package hpfs

import (
	"context"
	"fmt"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/hpfs/hpnode/merkle"
)

// A read of an unchanged leaf in the rw session fills the kernel page cache with the clean
// leaves of its aligned window (pushWindow leaves, FUSE_NOTIFY_STORE), not only the pages asked
// for: a 4 KiB random read would otherwise cost a round trip per page (the kernel does no
// readahead for random reads). The kernel then serves the other pages itself. The push runs
// after the reply, on a goroutine.
//
// A stored page must never be older than what the file holds, so a leaf is pushed only while no
// descriptor of the file is open for writing (writers == 0) and the leaf is clean in this
// session; everything that can change the file's bytes or size (a writable open, a truncate)
// first counts itself a writer and then waits until the pushes in flight (pushing) are done.
// Pushes run outside the session lock (the kernel may wait for page locks held by readers whose
// replies need that lock) and never cover the pages of the read being answered (the kernel holds
// them locked until the reply).

// writeHandle is the file handle of a writable open in the rw session: its release ends the
// writer count the open started.
type writeHandle struct{ n *ovNode }

// leafPush is one leaf to store in the kernel page cache: its n bytes at off, read from the
// store by hash (leaves are immutable) on the push goroutine.
type leafPush struct {
	off int64
	h   merkle.Hash
	n   uint64
}

// pushWindow is how many leaves (an aligned group) a read's push covers: 256 KiB, so random
// page reads of a database file warm its cache 64 pages at a time, while a sequential reader
// is served by the kernel's own readahead anyway.
const pushWindow = 4

// startWriter counts a writer of n and waits for pushes in flight. The caller holds s.mu; the
// wait releases it, so the caller must re-check the session afterwards.
func (s *rwSession) startWriter(n *ovNode) {
	n.writers++
	for n.pushing > 0 {
		s.pushDone.Wait()
	}
}

// planPush returns the leaves of off's window that may be pushed (see above), counting the push
// in flight; the caller runs it without s.mu (startPush). The caller holds s.mu.
func (s *rwSession) planPush(n *ovNode, off int64) ([]leafPush, bool) {
	if n.kind != merkle.KindFile || n.writers > 0 || off < 0 {
		return nil, false
	}
	f := n.file
	if !f.loaded {
		return nil, false
	}
	g := uint64(off) / s.ls / pushWindow * pushWindow
	var ps []leafPush
	for i := g; i < g+pushWindow && i < f.baseValid && i < uint64(len(f.baseLeaves)); i++ {
		if _, dirty := f.dirty[i]; dirty {
			continue
		}
		if l := f.leafLen(i, s.ls); l > 0 {
			ps = append(ps, leafPush{off: int64(i * s.ls), h: f.baseLeaves[i], n: l})
		}
	}
	if len(ps) == 0 {
		return nil, false
	}
	n.pushing++
	if s.pushes != nil {
		// Counted under mu: Daemon.Close ends the session under mu before it waits, so no
		// push is added to the group once the wait may have begun.
		s.pushes.Add(1)
	}
	return ps, true
}

// startPush runs a planned push off the read's reply path, on a goroutine owned by the
// session's pushes group (planPush counted it; the Daemon waits for the group before
// unmounting); without a group (a session used outside a Daemon) it runs inline.
func (s *rwSession) startPush(in *fs.Inode, n *ovNode, ps []leafPush, skipOff int64, skipLen int) {
	run := func() {
		bp, _ := s.pushBufs.Get().(*[]byte)
		if bp == nil {
			b := make([]byte, s.ls)
			bp = &b
		}
		for _, p := range ps {
			data, done, err := leafForPush(s.store, p.h, *bp)
			if err != nil {
				continue // a push is an optimization: the kernel will ask for these pages
			}
			push(in, p.off, data[:min(uint64(len(data)), p.n)], skipOff, skipLen)
			if done != nil {
				done()
			}
		}
		s.pushBufs.Put(bp)
		s.endPush(n)
	}
	if s.pushes == nil {
		run()
		return
	}
	go func() {
		defer s.pushes.Done()
		run()
	}()
}

// leafForPush returns committed leaf h's bytes for a push, and done (nil when nothing is to be
// released) to call once they are written. A leaf in the store's cache is used as is; any other
// is read from pebble without a copy, and a sparse one is decoded into buf (the pushing
// goroutine's reused buffer) instead of a fresh leaf: pushing a mostly-zero file then neither
// faults in a new 64 KiB per leaf nor evicts the cache for bytes only the kernel needs. A leaf
// not stored as committed (or a store other than Store) takes the plain GetLeaf path.
func leafForPush(st merkle.NodeStore, h merkle.Hash, buf []byte) (data []byte, done func(), err error) {
	s, ok := st.(*Store)
	if !ok {
		data, err = st.GetLeaf(h)
		return data, nil, err
	}
	if v, ok := s.cache.get(tagLeaf, h); ok {
		return v, nil, nil
	}
	v, closer, err := s.db.Get(objKey(tagLeaf, h))
	if err != nil {
		data, err = st.GetLeaf(h)
		return data, nil, err
	}
	if data, err = decodeLeafInto(v, buf[:0], s.params.LeafSize); err != nil {
		closer.Close()
		return nil, nil, fmt.Errorf("push leaf %s: %w", h, err)
	}
	return data, func() { closer.Close() }, nil
}

func (s *rwSession) endPush(n *ovNode) {
	s.mu.Lock()
	n.pushing--
	if n.pushing == 0 {
		s.pushDone.Broadcast()
	}
	s.mu.Unlock()
}

// push stores data, the bytes of the file at off, in the kernel page cache of in, except the
// pages [skipOff, skipOff+skipLen) of the read being answered.
func push(in *fs.Inode, off int64, data []byte, skipOff int64, skipLen int) {
	const page = 4096
	lo := skipOff &^ (page - 1)
	hi := (skipOff + int64(skipLen) + page - 1) &^ (page - 1)
	end := off + int64(len(data))
	if lo >= end || hi <= off { // the read is elsewhere
		_ = in.WriteCache(off, data)
		return
	}
	if lo > off {
		_ = in.WriteCache(off, data[:lo-off])
	}
	if hi < end {
		_ = in.WriteCache(hi, data[hi-off:])
	}
}

// Release implements fs.NodeReleaser: a writable open's release ends its writer count.
func (r *rwNode) Release(ctx context.Context, f fs.FileHandle) syscall.Errno {
	if w, ok := f.(*writeHandle); ok {
		r.s.mu.Lock()
		w.n.writers--
		r.s.mu.Unlock()
	}
	return 0
}
