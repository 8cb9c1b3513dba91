package hpfs

import (
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// Blob files and the WAL are where the store's bulk goes: every leaf of 4 KiB or more is written
// to the WAL and, at a flush, to a blob file; a state sync writes both for every byte it syncs;
// and nothing reads either while it is being written. Left in the page cache, each written page
// is a page the kernel had to take from its free lists; on a VM with free page reporting (these
// project VMs) free pages have been handed back to the host, so the first touch of each costs a
// host fault: perf showed write(2) of a 1 GiB sync's blob files and WAL going from 0.7 to 3.95
// CPU-s once the pages were fresh. dropBehindFS writes these files back and drops them from the
// cache a chunk behind the writer, so new chunks reuse the pages old ones freed (the allocator
// hands out recently freed pages first). Later reads of those leaves come from the disk.
//
// It changes no durability promise: pebble syncs the files as before; dropped pages were written
// back first (sync_file_range waits for them), and a failed write-back leaves them cached and
// resurfaces in pebble's own sync.
type dropBehindFS struct{ vfs.FS }

// dropBehindChunk is how much of a file is written between two drops: large enough that the
// calls are few, small enough that the chunk's pages are still on the allocator's recently-freed
// lists when the next chunks are written.
const dropBehindChunk = 8 << 20

// Create implements vfs.FS.
func (fs dropBehindFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || !dropsBehind(name) {
		return f, err
	}
	return &dropBehindFile{File: f, fd: int(f.Fd())}, nil
}

// ReuseForWrite implements vfs.FS: pebble recycles WAL files this way.
func (fs dropBehindFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil || !dropsBehind(newname) {
		return f, err
	}
	return &dropBehindFile{File: f, fd: int(f.Fd())}, nil
}

// dropsBehind reports whether a file is written through a dropBehindFile: blob files and WAL
// files, both written once front to back and read back only at recovery or as values.
func dropsBehind(name string) bool {
	return strings.HasSuffix(name, ".blob") || strings.HasSuffix(name, ".log")
}

// dropBehindFile is a file written sequentially: every byte before written is in place; the
// write-back of [dropped, started) has been started, and the pages before dropped were written
// back and dropped.
type dropBehindFile struct {
	vfs.File
	fd      int
	written int64
	started int64
	dropped int64
}

// Write implements vfs.File. At each chunk boundary it starts the write-back of the chunk just
// completed and drops the one before it, whose write-back was started a chunk ago and has
// usually finished: a writer (the WAL's flush loop, a flush's blob writer) rarely waits.
func (f *dropBehindFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written += int64(n)
	if end := f.written &^ (blockSize - 1); end-f.started >= dropBehindChunk {
		f.drop(f.dropped, f.started)
		if unix.SyncFileRange(f.fd, f.started, end-f.started, unix.SYNC_FILE_RANGE_WRITE) == nil {
			f.started = end
		}
	}
	return n, err
}

// drop waits for the write-back of [from, to) and drops it from the page cache. Both calls are
// advice: a failure leaves the pages cached, and pebble's sync reports any write error.
func (f *dropBehindFile) drop(from, to int64) {
	if to <= from {
		return
	}
	const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if unix.SyncFileRange(f.fd, from, to-from, wait) != nil {
		return
	}
	_ = unix.Fadvise(f.fd, from, to-from, unix.FADV_DONTNEED)
	f.dropped = to
}
