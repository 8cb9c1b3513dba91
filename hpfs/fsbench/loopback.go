package fsbench

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// plainFile is the loopback file handle without PassthroughFd: an interface embed promotes only
// these methods, so go-fuse serves every read and write through the daemon, as hpfsd's rw
// session must (it hashes what it is written).
type plainFile interface {
	fs.FileReader
	fs.FileWriter
	fs.FileFlusher
	fs.FileFsyncer
	fs.FileReleaser
	fs.FileGetattrer
	fs.FileSetattrer
	fs.FileLseeker
	fs.FileAllocater
}

type noPassthroughFile struct{ plainFile }

// noPassthroughNode is a loopback node whose opens never use kernel passthrough.
type noPassthroughNode struct{ fs.LoopbackNode }

func newNoPassthroughRoot(dir string) (fs.InodeEmbedder, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return nil, err
	}
	root := &fs.LoopbackRoot{Path: dir, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &noPassthroughNode{fs.LoopbackNode{RootData: r}}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	return root.RootNode, nil
}

// Open implements fs.NodeOpener.
func (n *noPassthroughNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return wrapPlain(fh), fl, 0
}

// Create implements fs.NodeCreater.
func (n *noPassthroughNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return in, wrapPlain(fh), fl, 0
}

func wrapPlain(fh fs.FileHandle) fs.FileHandle {
	if p, ok := fh.(plainFile); ok {
		return noPassthroughFile{p}
	}
	return fh
}
