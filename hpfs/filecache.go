package hpfs

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hpfs/hpnode/merkle"
)

// fileCache holds committed files materialized as plain files under <store>/cache, named by
// their file hash, so read-only views can hand the kernel a passthrough fd: reads then never
// reach the daemon. Files are immutable and content-addressed, so every view and version shares
// one copy. The directory is scratch: it is emptied at start and bounded by limit bytes (the
// least recently opened files are unlinked first; open fds keep working).
type fileCache struct {
	dir   string
	limit int64

	mu    sync.Mutex // serializes materialization and the LRU
	ll    *list.List // of *cachedFile, front = most recent
	files map[merkle.Hash]*list.Element
	size  int64
}

type cachedFile struct {
	h    merkle.Hash
	size int64
}

func newFileCache(dir string, limit int64) (*fileCache, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear file cache: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create file cache: %w", err)
	}
	return &fileCache{dir: dir, limit: limit, ll: list.New(), files: map[merkle.Hash]*list.Element{}}, nil
}

// open returns a read-only fd of the materialized file e, or ok=false when the file is too big
// to cache (the caller then serves reads itself).
func (c *fileCache) open(store merkle.NodeStore, e merkle.Entry) (*os.File, bool, error) {
	if int64(e.Size) > c.limit/4 {
		return nil, false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	path := filepath.Join(c.dir, e.Hash.String())
	if el, ok := c.files[e.Hash]; ok {
		c.ll.MoveToFront(el)
		f, err := os.Open(path)
		return f, err == nil, err
	}
	if err := materialize(store, e.Hash, path); err != nil {
		return nil, false, err
	}
	c.files[e.Hash] = c.ll.PushFront(&cachedFile{h: e.Hash, size: int64(e.Size)})
	c.size += int64(e.Size)
	for c.size > c.limit && c.ll.Len() > 1 {
		old := c.ll.Back()
		cf := old.Value.(*cachedFile)
		c.ll.Remove(old)
		delete(c.files, cf.h)
		c.size -= cf.size
		os.Remove(filepath.Join(c.dir, cf.h.String()))
	}
	f, err := os.Open(path)
	return f, err == nil, err
}

// materialize writes the file's bytes to path atomically (temp file, then rename).
func materialize(store merkle.NodeStore, file merkle.Hash, path string) error {
	leaves, err := merkle.FileLeaves(store, file)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	for _, h := range leaves {
		data, err := store.GetLeaf(h)
		if err == nil {
			_, err = tmp.Write(data)
		}
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return fmt.Errorf("materialize %s: %w", file, err)
		}
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// passthroughFile is an open read-only file of a read-only view. The kernel reads its fd
// directly (FUSE passthrough); Read serves the reads itself when passthrough is unavailable.
type passthroughFile struct {
	f *os.File
}

var (
	_ fs.FilePassthroughFder = (*passthroughFile)(nil)
	_ fs.FileReader          = (*passthroughFile)(nil)
	_ fs.FileReleaser        = (*passthroughFile)(nil)
)

// PassthroughFd implements fs.FilePassthroughFder.
func (p *passthroughFile) PassthroughFd() (int, bool) { return int(p.f.Fd()), true }

// Read implements fs.FileReader.
func (p *passthroughFile) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := p.f.ReadAt(dest, off)
	if err != nil && err != io.EOF {
		return nil, toErrno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Release implements fs.FileReleaser.
func (p *passthroughFile) Release(ctx context.Context) syscall.Errno {
	if err := p.f.Close(); err != nil {
		return toErrno(err)
	}
	return 0
}
