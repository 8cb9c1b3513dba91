package hpfs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hpfs/hpnode/merkle"
)

var (
	_ fs.NodeAccesser  = (*rwNode)(nil)
	_ fs.NodeOpendirer = (*rwNode)(nil)
)

// allowLocked checks that c may search every directory above n in the session tree and has
// want on n itself (0: only the search). Called with s.mu held (modes change under it).
func (r *rwNode) allowLocked(c caller, n *ovNode, want uint32) syscall.Errno {
	if c.uid == 0 && (want&permX == 0 || n.isDir()) {
		return 0 // root searches every directory and reads and writes everything
	}
	for p := n.parent; p != nil; p = p.parent {
		if !c.may(p.mode, r.v.uid, r.v.gid, permX, true) {
			return syscall.EACCES
		}
	}
	if want != 0 && !c.may(n.mode, r.v.uid, r.v.gid, want, n.isDir()) {
		return syscall.EACCES
	}
	return 0
}

// removableLocked checks that c may remove or replace dir's entry name: write and search on
// dir, and dir's sticky bit. A missing name is ENOENT, as natively (the lookup comes first).
func (r *rwNode) removableLocked(c caller, dir *ovNode, name string) syscall.Errno {
	if errno := r.allowLocked(c, dir, permW|permX); errno != 0 {
		return errno
	}
	if !c.sticky(dir.mode, r.v.uid) {
		return 0
	}
	if _, errno := r.s.child(dir, name); errno != 0 {
		return errno
	}
	return syscall.EPERM
}

// Access implements fs.NodeAccesser (access(2), and chdir's search check).
func (r *rwNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return errno
	}
	return r.allowLocked(callerOf(ctx), r.n, mask&(permR|permW|permX))
}

// Opendir implements fs.NodeOpendirer: listing a directory needs read permission on it.
func (r *rwNode) Opendir(ctx context.Context) syscall.Errno {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if errno := r.s.checkNode(r.n); errno != 0 {
		return errno
	}
	return r.allowLocked(callerOf(ctx), r.n, permR)
}

// renameAllowedLocked checks a rename of dir/name to newDir/newName for c: write and search on
// both directories, both sticky bits (the moved entry, and a replaced one), and write on a
// directory that moves to another parent (its ".." changes).
func (r *rwNode) renameAllowedLocked(c caller, dir *ovNode, name string, newDir *ovNode, newName string) syscall.Errno {
	if errno := r.removableLocked(c, dir, name); errno != 0 {
		return errno
	}
	if errno := r.allowLocked(c, newDir, permW|permX); errno != 0 {
		return errno
	}
	if c.sticky(newDir.mode, r.v.uid) {
		if _, errno := r.s.child(newDir, newName); errno == 0 {
			return syscall.EPERM
		}
	}
	if newDir != dir && c.uid != 0 {
		if n, errno := r.s.child(dir, name); errno == 0 && n.kind == merkle.KindDir &&
			!c.may(n.mode, r.v.uid, r.v.gid, permW, true) {
			return syscall.EACCES
		}
	}
	return 0
}

// setattrAllowedLocked checks an attribute change of r.n for c: chmod and explicit times only
// by the owner (EPERM), a truncate by path or times set to now need write permission (EACCES).
// A truncate through a descriptor was checked when it was opened.
func (r *rwNode) setattrAllowedLocked(c caller, in *fuse.SetAttrIn) syscall.Errno {
	if errno := r.allowLocked(c, r.n, 0); errno != 0 {
		return errno
	}
	if c.ownerOrRoot(r.v.uid) {
		return 0
	}
	if in.Valid&fuse.FATTR_MODE != 0 {
		return syscall.EPERM
	}
	explicit := in.Valid&fuse.FATTR_MTIME != 0 && in.Valid&fuse.FATTR_MTIME_NOW == 0 ||
		in.Valid&fuse.FATTR_ATIME != 0 && in.Valid&fuse.FATTR_ATIME_NOW == 0
	if explicit {
		return syscall.EPERM
	}
	now := in.Valid&(fuse.FATTR_MTIME|fuse.FATTR_ATIME) != 0
	trunc := in.Valid&fuse.FATTR_SIZE != 0 && in.Valid&fuse.FATTR_FH == 0
	if (now || trunc) && !c.may(r.n.mode, r.v.uid, r.v.gid, permW, r.n.isDir()) {
		return syscall.EACCES
	}
	return 0
}
