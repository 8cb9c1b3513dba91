package hpfs

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hpfs/hpnode/merkle"
)

// roView is a committed version seen read-only: current/ or a named ro session. Its content never
// changes, so the kernel may cache everything it is told.
type roView struct {
	files *fileCache // nil: no passthrough
	store merkle.NodeStore
	ver   Version
	ls    uint64 // leaf size
}

// roNode is one entry of a read-only view.
type roNode struct {
	fs.Inode
	v  *view
	rv *roView
	e  merkle.Entry

	mu      sync.Mutex
	lookups int                     // directories: by-name lookups so far
	entries map[string]merkle.Entry // directories: the whole listing once lookups pass scanThreshold
	leaves  []merkle.Hash           // files: loaded on first read
	loaded  bool
	lastIdx int
	last    []byte
}

var (
	_ fs.NodeLookuper   = (*roNode)(nil)
	_ fs.NodeReaddirer  = (*roNode)(nil)
	_ fs.NodeGetattrer  = (*roNode)(nil)
	_ fs.NodeOpener     = (*roNode)(nil)
	_ fs.NodeReader     = (*roNode)(nil)
	_ fs.NodeReadlinker = (*roNode)(nil)
	_ fs.NodeStatfser   = (*roNode)(nil)
)

func newRONode(v *view, rv *roView, e merkle.Entry) *roNode {
	return &roNode{v: v, rv: rv, e: e, lastIdx: -1}
}

func (r *roNode) attr(a *fuse.Attr) {
	fillAttr(a, r.StableAttr().Ino, r.e.Kind, r.e.Mode, r.e.Size, r.rv.ver.Time, r.v.uid, r.v.gid)
}

// Lookup implements fs.NodeLookuper.
func (r *roNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := r.allow(callerOf(ctx), permX); errno != 0 {
		return nil, errno
	}
	if r.e.Kind != merkle.KindDir {
		return nil, syscall.ENOTDIR
	}
	if merkle.ValidateName(name) != nil {
		return nil, syscall.ENOENT
	}
	e, errno := r.child(name)
	if errno != 0 {
		return nil, errno
	}
	ch := newRONode(r.v, r.rv, e)
	in := r.NewInode(ctx, ch, fs.StableAttr{Mode: kindMode(e.Kind)})
	ch.attr(&out.Attr)
	r.v.setTimeouts(out)
	return in, 0
}

// child finds a name, switching from per-name search to one loaded listing when the directory is
// being scanned (see scanThreshold).
func (r *roNode) child(name string) (merkle.Entry, syscall.Errno) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entries == nil {
		if r.lookups++; r.lookups > scanThreshold {
			list, err := merkle.ReadDir(r.rv.store, r.e.Hash)
			if err != nil {
				return merkle.Entry{}, syscall.EIO
			}
			r.entries = make(map[string]merkle.Entry, len(list))
			for _, e := range list {
				r.entries[e.Name] = e
			}
		}
	}
	if r.entries != nil {
		e, ok := r.entries[name]
		if !ok {
			return merkle.Entry{}, syscall.ENOENT
		}
		return e, 0
	}
	e, err := merkle.LookupChild(r.rv.store, r.e.Hash, name)
	if errors.Is(err, merkle.ErrNotFound) {
		return merkle.Entry{}, syscall.ENOENT
	}
	if err != nil {
		return merkle.Entry{}, syscall.EIO
	}
	return e, 0
}

// Readdir implements fs.NodeReaddirer.
func (r *roNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if r.e.Kind != merkle.KindDir {
		return nil, syscall.ENOTDIR
	}
	entries, err := merkle.ReadDir(r.rv.store, r.e.Hash)
	if err != nil {
		return nil, syscall.EIO
	}
	out := make([]fuse.DirEntry, len(entries))
	for i, e := range entries {
		out[i] = fuse.DirEntry{Name: e.Name, Mode: kindMode(e.Kind)}
	}
	return fs.NewListDirStream(out), 0
}

// Getattr implements fs.NodeGetattrer.
func (r *roNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.attr(&out.Attr)
	r.v.setAttrTimeout(out)
	return 0
}

// Open implements fs.NodeOpener: writes get EROFS; reads keep the kernel page cache, which is
// always valid because a version never changes.
func (r *roNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	if r.e.Kind != merkle.KindFile {
		return nil, 0, syscall.EISDIR
	}
	if errno := r.allow(callerOf(ctx), openWant(flags)); errno != 0 {
		return nil, 0, errno
	}
	if r.rv.files != nil && r.e.Size > 0 {
		f, ok, err := r.rv.files.open(r.rv.store, r.e)
		if err != nil {
			return nil, 0, syscall.EIO
		}
		if ok {
			return &passthroughFile{f: f}, fuse.FOPEN_KEEP_CACHE, 0
		}
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// Read implements fs.NodeReader.
func (r *roNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if r.e.Kind != merkle.KindFile {
		return nil, syscall.EISDIR
	}
	if off < 0 {
		return nil, syscall.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.loaded {
		leaves, err := merkle.FileLeaves(r.rv.store, r.e.Hash)
		if err != nil {
			return nil, syscall.EIO
		}
		r.leaves, r.loaded = leaves, true
	}
	size := r.e.Size
	if uint64(off) >= size {
		return fuse.ReadResultData(nil), 0
	}
	ls := r.rv.ls
	end := min(size, uint64(off)+uint64(len(dest)))
	n := 0
	for pos := uint64(off); pos < end; {
		i := pos / ls
		data, err := r.leaf(int(i))
		if err != nil {
			return nil, syscall.EIO
		}
		c := copy(dest[n:n+int(end-pos)], data[pos-i*ls:])
		n += c
		pos += uint64(c)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (r *roNode) leaf(i int) ([]byte, error) {
	if i == r.lastIdx {
		return r.last, nil
	}
	if i >= len(r.leaves) {
		return nil, merkle.ErrNotFound
	}
	data, err := r.rv.store.GetLeaf(r.leaves[i])
	if err != nil {
		return nil, err
	}
	r.lastIdx, r.last = i, data
	return data, nil
}

// Readlink implements fs.NodeReadlinker.
func (r *roNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if r.e.Kind != merkle.KindSymlink {
		return nil, syscall.EINVAL
	}
	t, err := readSymlink(r.rv.store, r.e.Hash)
	if err != nil {
		return nil, syscall.EIO
	}
	return []byte(t), 0
}

// Flush implements fs.NodeFlusher: nothing to report at close (see rwNode.Flush).
func (r *roNode) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return syscall.ENOSYS }

// Statfs implements fs.NodeStatfser.
func (r *roNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return r.v.statfs(out)
}

// Every mutating operation on a read-only view fails with EROFS.

// Setattr implements fs.NodeSetattrer.
func (r *roNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

// Create implements fs.NodeCreater.
func (r *roNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

// Mkdir implements fs.NodeMkdirer.
func (r *roNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Mknod implements fs.NodeMknoder.
func (r *roNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Link implements fs.NodeLinker.
func (r *roNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Symlink implements fs.NodeSymlinker.
func (r *roNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Unlink implements fs.NodeUnlinker.
func (r *roNode) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rmdir implements fs.NodeRmdirer.
func (r *roNode) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rename implements fs.NodeRenamer.
func (r *roNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// view holds what every node of a mount needs: owner, cache timeouts, the store dir for statfs.
type view struct {
	uid, gid uint32
	entry    time.Duration
	attrTO   time.Duration
	statDir  string
}

func (v *view) setTimeouts(out *fuse.EntryOut) {
	out.SetEntryTimeout(v.entry)
	out.SetAttrTimeout(v.attrTO)
}

func (v *view) setAttrTimeout(out *fuse.AttrOut) { out.SetTimeout(v.attrTO) }

// statfs reports the capacity of the filesystem holding the store: that is where data goes.
func (v *view) statfs(out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Statfs(v.statDir, &st); err != nil {
		return toErrno(err)
	}
	out.FromStatfsT(&st)
	out.NameLen = 255
	return 0
}
