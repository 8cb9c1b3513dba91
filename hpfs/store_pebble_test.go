package hpfs

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// blobFiles counts the blob files (separated values) in a store's pebble directory.
func blobFiles(t *testing.T, dir string) int { return dbFiles(t, dir, ".blob") }

// dbFiles counts the files with suffix in a store's pebble directory.
func dbFiles(t *testing.T, dir, suffix string) int {
	t.Helper()
	names, err := os.ReadDir(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range names {
		if strings.HasSuffix(e.Name(), suffix) {
			n++
		}
	}
	return n
}

// importFlushExport imports a tree with a large and a small file into the store in dir,
// flushes pebble, and checks an export of the version is byte-exact.
func importFlushExport(t *testing.T, dir string) {
	t.Helper()
	src := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	big, small := randBytes(r, 300<<10), []byte("small")
	writeFile(t, filepath.Join(src, "big"), big)
	writeFile(t, filepath.Join(src, "small"), small)
	st, err := OpenStore(StoreOptions{Dir: dir, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := Import(st, src, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := blobFiles(t, dir); n == 0 {
		t.Fatalf("no blob file after flushing %d KiB of leaves: values are not separated", len(big)>>10)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := Export(st, v.Root, out); err != nil {
		t.Fatal(err)
	}
	equalBytes(t, "big", readFile(t, filepath.Join(out, StateDir, "big")), big)
	equalBytes(t, "small", readFile(t, filepath.Join(out, StateDir, "small")), small)
}

func TestStoreKeepsLargeLeavesInBlobFiles(t *testing.T) {
	importFlushExport(t, t.TempDir())
}

// A store created by a pebble without value separation (hpfsd before it) opens, is ratcheted
// to FormatValueSeparation, and separates what it writes from then on.
func TestStoreOpensPreValueSeparationDB(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{Logger: quietLogger{quietLog()}})
	if err != nil {
		t.Fatal(err)
	}
	if db.FormatMajorVersion() >= pebble.FormatValueSeparation {
		t.Fatalf("a default pebble is already at format %d: this test proves nothing", db.FormatMajorVersion())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	importFlushExport(t, dir)
}

// A flush of many leaves writes one sstable and one blob file, not one per 2 MiB (pebble's
// default target), so a sync creates a few files per memtable rather than hundreds per GiB.
func TestStoreFlushWritesFewLargeFiles(t *testing.T) {
	dir := t.TempDir()
	src := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 24 {
		writeFile(t, filepath.Join(src, "f"+itoa(uint64(i))), randBytes(r, 1<<20))
	}
	st, err := OpenStore(StoreOptions{Dir: dir, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := Import(st, src, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Flush(); err != nil {
		t.Fatal(err)
	}
	// Import commits once: 24 MiB of leaves in one flush (the first version's flush, if any,
	// may add one small sstable).
	if ssts, blobs := dbFiles(t, dir, ".sst"), blobFiles(t, dir); ssts > 2 || blobs > 2 {
		t.Fatalf("24 MiB of leaves flushed into %d sstables and %d blob files, want at most 2 each", ssts, blobs)
	}
}
