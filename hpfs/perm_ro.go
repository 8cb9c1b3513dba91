package hpfs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/hpfs/hpnode/merkle"
)

var (
	_ fs.NodeAccesser  = (*roNode)(nil)
	_ fs.NodeOpendirer = (*roNode)(nil)
)

// allow checks that c may search every directory above r in its view and has want on r (0:
// only the search). The view's nodes never change mode, so no lock is needed; above the view's
// root is the mount root (0755), which everyone may search.
func (r *roNode) allow(c caller, want uint32) syscall.Errno {
	if c.uid == 0 && (want&permX == 0 || r.e.Kind == merkle.KindDir) {
		return 0 // root searches every directory and reads everything
	}
	for _, p := r.Parent(); p != nil; _, p = p.Parent() {
		pn, ok := p.Operations().(*roNode)
		if !ok {
			break
		}
		if !c.may(pn.e.Mode, r.v.uid, r.v.gid, permX, true) {
			return syscall.EACCES
		}
	}
	if want != 0 && !c.may(r.e.Mode, r.v.uid, r.v.gid, want, r.e.Kind == merkle.KindDir) {
		return syscall.EACCES
	}
	return 0
}

// Access implements fs.NodeAccesser: asking for write permission gets EROFS, as on a read-only
// mount.
func (r *roNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	if mask&permW != 0 {
		return syscall.EROFS
	}
	return r.allow(callerOf(ctx), mask&(permR|permX))
}

// Opendir implements fs.NodeOpendirer: listing a directory needs read permission on it.
func (r *roNode) Opendir(ctx context.Context) syscall.Errno {
	return r.allow(callerOf(ctx), permR)
}
