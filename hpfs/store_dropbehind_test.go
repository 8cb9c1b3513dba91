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

// TestDropBehindBlobAndWALFiles: blob and WAL files written through dropBehindFS read back
// intact, and the pages of all but their last chunk have left the page cache; sstables are left
// alone.
func TestDropBehindBlobAndWALFiles(t *testing.T) {
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
	write("000003.log")
	// At most the last chunk (its write-back started, not yet dropped) and the tail stay.
	limit := (dropBehindChunk + 12345 + blockSize - 1) / blockSize
	for _, c := range []struct {
		name    string
		dropped bool
	}{{"000001.blob", true}, {"000002.sst", false}, {"000003.log", true}} {
		path := filepath.Join(dir, c.name)
		n := resident(t, path)
		switch {
		case c.dropped && n > limit:
			t.Errorf("%s: %d pages still cached, want at most %d", c.name, n, limit)
		case !c.dropped && n < len(data)/blockSize/2:
			t.Errorf("%s: only %d pages cached: it should not have been dropped", c.name, n)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s does not read back as written", c.name)
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
