package hpfs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/hpfs/hpnode/merkle"
)

// Reads of unchanged leaves in the rw session fill the kernel page cache with the whole leaf
// (FUSE_NOTIFY_STORE), not only the pages asked for: the daemon decoded the leaf anyway, and a
// 4 KiB random read would otherwise cost a round trip per page (the kernel does no readahead for
// random reads). The kernel then serves the other pages of that leaf itself.
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

// leafPush is one leaf's bytes to store in the kernel page cache at off.
type leafPush struct {
	off  int64
	data []byte // immutable (a stored leaf)
}

// startWriter counts a writer of n and waits for pushes in flight. The caller holds s.mu; the
// wait releases it, so the caller must re-check the session afterwards.
func (s *rwSession) startWriter(n *ovNode) {
	n.writers++
	for n.pushing > 0 {
		s.pushDone.Wait()
	}
}

// planPush returns the leaf holding off when it may be pushed (see above), counting the push
// in flight; the caller runs it without s.mu and then calls endPush. The caller holds s.mu.
func (s *rwSession) planPush(n *ovNode, off int64) (leafPush, bool) {
	if n.kind != merkle.KindFile || n.writers > 0 || off < 0 {
		return leafPush{}, false
	}
	f := n.file
	i := uint64(off) / s.ls
	if _, dirty := f.dirty[i]; dirty || i >= f.baseValid {
		return leafPush{}, false
	}
	data, err := f.baseLeaf(s.store, i)
	if err != nil {
		return leafPush{}, false
	}
	data = data[:min(uint64(len(data)), f.leafLen(i, s.ls))]
	if len(data) == 0 {
		return leafPush{}, false
	}
	n.pushing++
	if s.pushes != nil {
		// Counted under mu: Daemon.Close ends the session under mu before it waits, so no
		// push is added to the group once the wait may have begun.
		s.pushes.Add(1)
	}
	return leafPush{off: int64(i * s.ls), data: data}, true
}

// startPush runs a planned push off the read's reply path, on a goroutine owned by the
// session's pushes group (planPush counted it; the Daemon waits for the group before
// unmounting); without a group (a session used outside a Daemon) it runs inline.
func (s *rwSession) startPush(in *fs.Inode, n *ovNode, p leafPush, skipOff int64, skipLen int) {
	if s.pushes == nil {
		push(in, p, skipOff, skipLen)
		s.endPush(n)
		return
	}
	go func() {
		defer s.pushes.Done()
		push(in, p, skipOff, skipLen)
		s.endPush(n)
	}()
}

func (s *rwSession) endPush(n *ovNode) {
	s.mu.Lock()
	n.pushing--
	if n.pushing == 0 {
		s.pushDone.Broadcast()
	}
	s.mu.Unlock()
}

// push stores p in the kernel page cache of in, except the pages [skipOff, skipOff+skipLen)
// of the read being answered.
func push(in *fs.Inode, p leafPush, skipOff int64, skipLen int) {
	const page = 4096
	lo := skipOff &^ (page - 1)
	hi := (skipOff + int64(skipLen) + page - 1) &^ (page - 1)
	end := p.off + int64(len(p.data))
	if lo > p.off {
		_ = in.WriteCache(p.off, p.data[:min(lo, end)-p.off])
	}
	if hi < end {
		start := max(hi, p.off)
		_ = in.WriteCache(start, p.data[start-p.off:])
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
