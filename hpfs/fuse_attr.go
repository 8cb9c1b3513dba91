package hpfs

import (
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hpfs/hpnode/merkle"
)

// blockSize is the st_blksize reported: the leaf size would make stdio buffer whole leaves, but
// 4 KiB keeps small-file tools conventional; it does not change what is stored.
const blockSize = 4096

func kindMode(k merkle.Kind) uint32 {
	switch k {
	case merkle.KindDir:
		return syscall.S_IFDIR
	case merkle.KindSymlink:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

// fillAttr sets the attributes every view reports: owner is the daemon's user, timestamps are one
// mtime (ctime and atime follow it), directories have nlink 2 and files 1 (no hard links).
func fillAttr(a *fuse.Attr, ino uint64, k merkle.Kind, perm uint32, size uint64, mtime time.Time, uid, gid uint32) {
	a.Ino = ino
	a.Mode = kindMode(k) | perm&0o7777
	a.Size = size
	a.Blocks = (size + 511) / 512
	a.Blksize = blockSize
	a.Nlink = 1
	if k == merkle.KindDir {
		a.Nlink = 2
	}
	a.Owner = fuse.Owner{Uid: uid, Gid: gid}
	a.SetTimes(&mtime, &mtime, &mtime)
}
