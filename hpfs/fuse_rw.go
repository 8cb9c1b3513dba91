package hpfs

import (
	"context"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hpfs/hpnode/merkle"
)

// rwNode is the FUSE face of one ovNode of the rw session. go-fuse may create several rwNode
// values for one ovNode (one per lookup); the stable inode number makes it reuse the first.
type rwNode struct {
	fs.Inode
	v *view
	s *rwSession
	n *ovNode
}

var (
	_ fs.NodeLookuper   = (*rwNode)(nil)
	_ fs.NodeReaddirer  = (*rwNode)(nil)
	_ fs.NodeGetattrer  = (*rwNode)(nil)
	_ fs.NodeSetattrer  = (*rwNode)(nil)
	_ fs.NodeOpener     = (*rwNode)(nil)
	_ fs.NodeCreater    = (*rwNode)(nil)
	_ fs.NodeMkdirer    = (*rwNode)(nil)
	_ fs.NodeMknoder    = (*rwNode)(nil)
	_ fs.NodeLinker     = (*rwNode)(nil)
	_ fs.NodeSymlinker  = (*rwNode)(nil)
	_ fs.NodeReadlinker = (*rwNode)(nil)
	_ fs.NodeUnlinker   = (*rwNode)(nil)
	_ fs.NodeRmdirer    = (*rwNode)(nil)
	_ fs.NodeRenamer    = (*rwNode)(nil)
	_ fs.NodeReader     = (*rwNode)(nil)
	_ fs.NodeWriter     = (*rwNode)(nil)
	_ fs.NodeFsyncer    = (*rwNode)(nil)
	_ fs.NodeFlusher    = (*rwNode)(nil)
	_ fs.NodeStatfser   = (*rwNode)(nil)
	_ fs.NodeAllocater  = (*rwNode)(nil)
	_ fs.NodeReleaser   = (*rwNode)(nil)
)

func (r *rwNode) newChild(ctx context.Context, c *ovNode, out *fuse.EntryOut) *fs.Inode {
	r.s.attrLocked(c, &out.Attr, r.v)
	r.v.setTimeouts(out)
	ch := &rwNode{v: r.v, s: r.s, n: c}
	return r.NewInode(ctx, ch, fs.StableAttr{Mode: kindMode(c.kind), Ino: c.ino})
}

func (s *rwSession) attrLocked(n *ovNode, a *fuse.Attr, v *view) {
	fillAttr(a, n.ino, n.kind, n.mode, s.size(n), n.mtime, v.uid, v.gid)
}

// Lookup implements fs.NodeLookuper.
func (r *rwNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return nil, errno
	}
	if errno := r.allowLocked(callerOf(ctx), r.n, permX); errno != 0 {
		return nil, errno
	}
	c, errno := r.s.child(r.n, name)
	if errno != 0 {
		return nil, errno
	}
	return r.newChild(ctx, c, out), 0
}

// Readdir implements fs.NodeReaddirer.
func (r *rwNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return nil, errno
	}
	if !r.n.isDir() {
		return nil, syscall.ENOTDIR
	}
	if errno := r.s.loadAll(r.n); errno != 0 {
		return nil, errno
	}
	entries := make([]fuse.DirEntry, 0, len(r.n.children))
	for name, c := range r.n.children {
		entries = append(entries, fuse.DirEntry{Name: name, Mode: kindMode(c.kind), Ino: c.ino})
	}
	sortDirEntries(entries)
	return fs.NewListDirStream(entries), 0
}

// Getattr implements fs.NodeGetattrer.
func (r *rwNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.s.attrLocked(r.n, &out.Attr, r.v)
	r.v.setAttrTimeout(out)
	return 0
}

// Setattr implements fs.NodeSetattrer: size (truncate), mode (chmod) and times (utimens, kept
// for the session only: timestamps are not part of the hashed state). Ownership changes are
// refused with EPERM: the tree has no owners.
func (r *rwNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return errno
	}
	if _, ok := in.GetUID(); ok {
		return syscall.EPERM
	}
	if _, ok := in.GetGID(); ok {
		return syscall.EPERM
	}
	if errno := r.setattrAllowedLocked(callerOf(ctx), in); errno != 0 {
		return errno
	}
	if sz, ok := in.GetSize(); ok {
		if r.n.kind == merkle.KindFile {
			r.s.startWriter(r.n) // a truncate by path has no writable descriptor
			errno := r.s.checkNode(r.n)
			if errno == 0 {
				errno = r.s.truncate(r.n, sz)
			}
			r.n.writers--
			if errno != 0 {
				return errno
			}
		} else if errno := r.s.truncate(r.n, sz); errno != 0 {
			return errno
		}
	}
	if m, ok := in.GetMode(); ok {
		if errno := r.s.chmod(r.n, m); errno != 0 {
			return errno
		}
	}
	if mt, ok := in.GetMTime(); ok {
		r.n.mtime = mt
		r.s.mutated = true
	} else if in.Valid&fuse.FATTR_MTIME_NOW != 0 {
		r.n.mtime = time.Now()
		r.s.mutated = true
	}
	r.s.attrLocked(r.n, &out.Attr, r.v)
	r.v.setAttrTimeout(out)
	return 0
}

// Open implements fs.NodeOpener. The kernel page cache is kept across opens: in an rw session
// every change goes through this mount, so the cache is always coherent.
func (r *rwNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return nil, 0, errno
	}
	if r.n.kind != merkle.KindFile {
		return nil, 0, syscall.EISDIR
	}
	if errno := r.allowLocked(callerOf(ctx), r.n, openWant(flags)); errno != 0 {
		return nil, 0, errno
	}
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return nil, fuse.FOPEN_KEEP_CACHE, 0
	}
	r.s.startWriter(r.n)
	if errno := r.s.checkNode(r.n); errno != 0 { // startWriter may have waited
		r.n.writers--
		return nil, 0, errno
	}
	if flags&syscall.O_TRUNC != 0 {
		if errno := r.s.truncate(r.n, 0); errno != 0 {
			r.n.writers--
			return nil, 0, errno
		}
	}
	return &writeHandle{n: r.n}, fuse.FOPEN_KEEP_CACHE, 0
}

// Create implements fs.NodeCreater.
func (r *rwNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return nil, nil, 0, errno
	}
	who := callerOf(ctx)
	if errno := r.allowLocked(who, r.n, permW|permX); errno != 0 {
		return nil, nil, 0, errno
	}
	c, errno := r.s.create(r.n, name, mode)
	if errno == syscall.EEXIST && flags&syscall.O_EXCL == 0 {
		// The kernel sends CREATE after a negative lookup; a racing create made the name exist.
		if c, errno = r.s.child(r.n, name); errno == 0 && c.kind != merkle.KindFile {
			errno = syscall.EISDIR
		}
		if errno == 0 {
			errno = r.allowLocked(who, c, openWant(flags))
		}
		if errno == 0 {
			r.s.startWriter(c)
			if errno = r.s.checkNode(r.n); errno == 0 && flags&syscall.O_TRUNC != 0 {
				errno = r.s.truncate(c, 0)
			}
			if errno != 0 {
				c.writers--
			}
		}
	} else if errno == 0 {
		c.writers++ // a new file: nothing of it can be in flight
	}
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return r.newChild(ctx, c, out), &writeHandle{n: c}, fuse.FOPEN_KEEP_CACHE, 0
}

// Mkdir implements fs.NodeMkdirer.
func (r *rwNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return nil, errno
	}
	if errno := r.allowLocked(callerOf(ctx), r.n, permW|permX); errno != 0 {
		return nil, errno
	}
	c, errno := r.s.mkdir(r.n, name, mode)
	if errno != 0 {
		return nil, errno
	}
	return r.newChild(ctx, c, out), 0
}

// Mknod implements fs.NodeMknoder: regular files only; devices, FIFOs and sockets cannot be
// part of a replicated state, so they get EPERM.
func (r *rwNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if mode&syscall.S_IFMT != syscall.S_IFREG && mode&syscall.S_IFMT != 0 {
		return nil, syscall.EPERM
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return nil, errno
	}
	if errno := r.allowLocked(callerOf(ctx), r.n, permW|permX); errno != 0 {
		return nil, errno
	}
	c, errno := r.s.create(r.n, name, mode)
	if errno != 0 {
		return nil, errno
	}
	return r.newChild(ctx, c, out), 0
}

// Link implements fs.NodeLinker: the tree has no hard links, so EPERM (as for a filesystem
// that does not support them, see link(2)).
func (r *rwNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Symlink implements fs.NodeSymlinker.
func (r *rwNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return nil, errno
	}
	if errno := r.allowLocked(callerOf(ctx), r.n, permW|permX); errno != 0 {
		return nil, errno
	}
	if len(target) > merkle.MaxSymlinkLen {
		return nil, syscall.ENAMETOOLONG
	}
	c, errno := r.s.symlink(r.n, name, target)
	if errno != 0 {
		return nil, errno
	}
	return r.newChild(ctx, c, out), 0
}

// Readlink implements fs.NodeReadlinker.
func (r *rwNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	t, errno := r.s.readlink(r.n)
	return []byte(t), errno
}

// Unlink implements fs.NodeUnlinker.
func (r *rwNode) Unlink(ctx context.Context, name string) syscall.Errno {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return errno
	}
	if errno := r.removableLocked(callerOf(ctx), r.n, name); errno != 0 {
		return errno
	}
	return r.s.remove(r.n, name, false)
}

// Rmdir implements fs.NodeRmdirer.
func (r *rwNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return errno
	}
	if errno := r.removableLocked(callerOf(ctx), r.n, name); errno != 0 {
		return errno
	}
	return r.s.remove(r.n, name, true)
}

// Rename implements fs.NodeRenamer, with RENAME_NOREPLACE and RENAME_EXCHANGE; other flags
// (RENAME_WHITEOUT) get EINVAL.
func (r *rwNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*rwNode)
	if !ok || np.s != r.s {
		return syscall.EXDEV
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return errno
	}
	if errno := r.renameAllowedLocked(callerOf(ctx), r.n, name, np.n, newName); errno != 0 {
		return errno
	}
	return r.s.rename(r.n, name, np.n, newName, flags)
}

// Read implements fs.NodeReader. A read of an unchanged leaf also stores the rest of the leaf
// in the kernel page cache, after this reply (see rwpush.go).
func (r *rwNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	r.s.mu.Lock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		r.s.mu.Unlock()
		return nil, errno
	}
	n, errno := r.s.read(r.n, dest, off)
	if errno != 0 {
		r.s.mu.Unlock()
		return nil, errno
	}
	p, ok := r.s.planPush(r.n, off)
	r.s.mu.Unlock()
	if ok {
		r.s.startPush(r.EmbeddedInode(), r.n, p, off, len(dest))
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write implements fs.NodeWriter.
func (r *rwNode) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return 0, errno
	}
	return r.s.write(r.n, data, off)
}

// Fsync implements fs.NodeFsyncer. Every write reached the session when it returned (there is
// no writeback cache), so fsync's promise inside a session is: the data is in the session and
// the next commit includes it. It fails with ESTALE once the session has ended. Durability
// across a crash comes only from commit (see doc.go).
func (r *rwNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.s.checkNode(r.n)
}

// Flush implements fs.NodeFlusher (close(2)). Every write reached the session when it returned,
// so close has nothing to report: ENOSYS tells the kernel to stop sending FLUSH on this mount,
// which saves a round trip per close (a quarter of a small-file create).
func (r *rwNode) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return syscall.ENOSYS }

// Allocate implements fs.NodeAllocater: plain fallocate (mode 0) extends the size; punching holes
// and other modes are not supported.
func (r *rwNode) Allocate(ctx context.Context, f fs.FileHandle, off uint64, size uint64, mode uint32) syscall.Errno {
	if mode != 0 {
		return syscall.EOPNOTSUPP
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return errno
	}
	if r.n.kind != merkle.KindFile {
		return syscall.EISDIR
	}
	if end := off + size; end > r.n.file.size {
		return r.s.truncate(r.n, end)
	}
	return 0
}

// Statfs implements fs.NodeStatfser.
func (r *rwNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return r.v.statfs(out)
}
