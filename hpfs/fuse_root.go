package hpfs

import (
	"context"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// mountRoot is <mount>/: it lists the views (current, rw, one per ro session) as persistent
// children that the Daemon adds and removes. Nothing can be created in it by users.
type mountRoot struct {
	fs.Inode
	v *view
}

var (
	_ fs.NodeGetattrer = (*mountRoot)(nil)
	_ fs.NodeStatfser  = (*mountRoot)(nil)
	_ fs.NodeMkdirer   = (*mountRoot)(nil)
	_ fs.NodeCreater   = (*mountRoot)(nil)
)

// Getattr implements fs.NodeGetattrer.
func (m *mountRoot) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillDirAttr(&out.Attr, 1, 0o755, m.v)
	return 0
}

func fillDirAttr(a *fuse.Attr, ino uint64, perm uint32, v *view) {
	now := time.Now()
	a.Ino = ino
	a.Mode = syscall.S_IFDIR | perm
	a.Nlink = 2
	a.Owner = fuse.Owner{Uid: v.uid, Gid: v.gid}
	a.SetTimes(&now, &now, &now)
}

// Statfs implements fs.NodeStatfser.
func (m *mountRoot) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return m.v.statfs(out)
}

// Mkdir implements fs.NodeMkdirer: views are made with hpfsd commands, not mkdir.
func (m *mountRoot) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Create implements fs.NodeCreater.
func (m *mountRoot) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

// Unlink implements fs.NodeUnlinker.
func (m *mountRoot) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rmdir implements fs.NodeRmdirer.
func (m *mountRoot) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rename implements fs.NodeRenamer.
func (m *mountRoot) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// Symlink implements fs.NodeSymlinker.
func (m *mountRoot) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
