package hpfs

import (
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// Blob files are where the store's bulk goes: every leaf of 4 KiB or more is written to one at a
// flush, a state sync writes a blob file per memtable, and nothing reads a blob file while it
// is being written. Left in the page cache, each written page is a page the kernel had to take
// from its free lists; on a VM with free page reporting (these project VMs) free pages have
// been handed back to the host, so the first touch of each costs a host fault: perf showed
// write(2) of a 1 GiB sync's blob files and WAL going from 0.7 to 3.95 CPU-s once the pages
// were fresh. dropBehindFS writes blob files back and drops them from the cache every
// dropBehindChunk, so the next chunk reuses the pages the last one freed (the allocator hands
// out recently freed pages first). Later reads of those leaves come from the disk.
//
// It changes no durability promise: pebble syncs the file as before; dropped pages were written
// back first (sync_file_range waits for them), and a failed write-back leaves them cached and
// resurfaces in pebble's own sync.
type dropBehindFS struct{ vfs.FS }

// dropBehindChunk is how much of a blob file is written between two drops: large enough that
// the wait for its write-back stays a small share of the flush (8 MiB at this disk's ~1 GB/s),
// small enough that the chunk's pages are still on the allocator's recently-freed lists.
const dropBehindChunk = 8 << 20

// Create implements vfs.FS.
func (fs dropBehindFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || !strings.HasSuffix(name, ".blob") {
		return f, err
	}
	return &dropBehindFile{File: f, fd: int(f.Fd())}, nil
}

// dropBehindFile is a blob file being written sequentially: every byte before written is in
// place, and the pages before dropped were written back and dropped.
type dropBehindFile struct {
	vfs.File
	fd      int
	written int64
	dropped int64
}

// Write implements vfs.File.
func (f *dropBehindFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written += int64(n)
	if end := f.written &^ (blockSize - 1); end-f.dropped >= dropBehindChunk {
		f.drop(f.dropped, end)
	}
	return n, err
}

// drop writes back [from, to) and drops it from the page cache. Both calls are advice: a
// failure leaves the pages cached, and pebble's sync reports any write error.
func (f *dropBehindFile) drop(from, to int64) {
	const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if unix.SyncFileRange(f.fd, from, to-from, wait) != nil {
		return
	}
	_ = unix.Fadvise(f.fd, from, to-from, unix.FADV_DONTNEED)
	f.dropped = to
}
