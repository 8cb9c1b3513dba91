package hpfs

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// TestDropBehindBlobFiles: a blob file written through dropBehindFS reads back intact, and the
// pages of all but its last chunk have left the page cache; other files are left alone.
func TestDropBehindBlobFiles(t *testing.T) {
	dir := t.TempDir()
	fs := dropBehindFS{vfs.Default}
	data := make([]byte, 5*dropBehindChunk+12345)
	rand.Read(data)
	write := func(name string) {
		f, err := fs.Create(filepath.Join(dir, name), vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(data); off += 1 << 20 {
			if _, err := f.Write(data[off:min(off+1<<20, len(data))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("000001.blob")
	write("000002.sst")
	blob, sst := resident(t, filepath.Join(dir, "000001.blob")), resident(t, filepath.Join(dir, "000002.sst"))
	if limit := (dropBehindChunk + 12345) / blockSize * 2; blob > limit {
		t.Errorf("%d pages of the blob file still cached, want at most %d (its last chunk, twice over)", blob, limit)
	}
	if sst < len(data)/blockSize/2 {
		t.Errorf("only %d pages of the sstable cached: it should not have been dropped", sst)
	}
	for _, name := range []string{"000001.blob", "000002.sst"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s does not read back as written", name)
		}
	}
}

// resident counts the pages of path in the page cache (mincore over a mapping of it).
func resident(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+blockSize-1)/blockSize)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
