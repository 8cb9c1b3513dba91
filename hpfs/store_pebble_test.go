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
func blobFiles(t *testing.T, dir string) int {
	t.Helper()
	names, err := os.ReadDir(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range names {
		if strings.HasSuffix(e.Name(), ".blob") {
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
