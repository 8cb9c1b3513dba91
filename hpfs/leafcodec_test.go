package hpfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestLeafCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sparse := make([]byte, 64<<10)
	copy(sparse[12345:], "Hello")
	copy(sparse[64<<10-3:], "end")
	edge := make([]byte, 64<<10)
	edge[63], edge[64] = 1, 2 // a run crossing a block boundary
	cases := []struct {
		name       string
		data       []byte
		wantSparse bool
	}{
		{"empty", nil, false},
		{"tiny", []byte("abc"), false},
		{"zeros", make([]byte, 64<<10), true},
		{"sparse", sparse, true},
		{"block edge", edge, true},
		{"odd size sparse", sparse[:40001], true},
		{"dense", randBytes(r, 64<<10), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := encodeLeaf(c.data)
			if got := v[0] == leafSparse; got != c.wantSparse {
				t.Fatalf("sparse = %v, want %v (%d bytes stored)", got, c.wantSparse, len(v))
			}
			if c.wantSparse && len(v) > 200 {
				t.Fatalf("sparse leaf stored in %d bytes", len(v))
			}
			got, err := decodeLeaf(v, 64<<10)
			if err != nil {
				t.Fatal(err)
			}
			equalBytes(t, c.name, got, c.data)
			// setLeaf must store the same value encodeLeaf computes.
			b := &pebble.Batch{}
			if err := setLeaf(b, []byte("k"), c.data); err != nil {
				t.Fatal(err)
			}
			rd := b.Reader()
			_, k, val, ok, err := rd.Next()
			if err != nil || !ok || string(k) != "k" || !bytes.Equal(val, v) {
				t.Fatalf("setLeaf stored a different value (ok %v, err %v)", ok, err)
			}
		})
	}
}

func TestDecodeLeafRejects(t *testing.T) {
	sp := func(parts ...uint64) []byte {
		out := []byte{leafSparse}
		for _, p := range parts {
			out = binary.AppendUvarint(out, p)
		}
		return out
	}
	cases := []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"unknown format", []byte{7, 1, 2}},
		{"raw too long", append([]byte{leafRaw}, make([]byte, 65)...)},
		{"no length", []byte{leafSparse}},
		{"length too big", sp(65)},
		{"truncated gap", append(sp(10), 0x80)},
		{"zero run", append(sp(10, 0, 0), 1)},
		{"run past end", append(sp(10, 8, 3), 1, 2, 3)},
		{"gap past end", append(sp(10, 11, 1), 1)},
		{"run bytes missing", append(sp(10, 0, 4), 1, 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := decodeLeaf(c.v, 64); !errors.Is(err, errBadLeaf) {
				t.Fatalf("err = %v, want errBadLeaf", err)
			}
		})
	}
}

func FuzzDecodeLeaf(f *testing.F) {
	f.Add([]byte{leafRaw, 1, 2, 3})
	f.Add(encodeLeaf(make([]byte, 1000)))
	f.Add([]byte{leafSparse, 100, 5, 2, 9, 9})
	f.Fuzz(func(t *testing.T, v []byte) {
		data, err := decodeLeaf(v, 1<<12)
		if err != nil {
			return
		}
		if len(data) > 1<<12 {
			t.Fatalf("decoded %d bytes past the limit", len(data))
		}
		again, err := decodeLeaf(encodeLeaf(data), 1<<12)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
		// Decoding into a reused buffer full of other bytes gives the same leaf.
		dirty := bytes.Repeat([]byte{0xa5}, 1<<12)
		into, err := decodeLeafInto(v, dirty, 1<<12)
		if err != nil || !bytes.Equal(into, data) {
			t.Fatalf("decode into a used buffer differs: %v", err)
		}
	})
}

// A store written before leaves carried a format byte must be refused, not misread.
func TestOpenStoreRefusesRawLeafFormat(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], 64<<10)
	if err := db.Set([]byte{tagParams}, p[:], pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(StoreOptions{Dir: dir, Logger: quietLog()})
	if err == nil {
		s.Close()
		t.Fatal("opened a format-0 store")
	}
	if !strings.Contains(err.Error(), "leaf format 0") {
		t.Fatalf("err = %v", err)
	}
}

// Sparse and dense leaves, committed in one batch big enough for the huge-page path, must read
// back exactly after the store is reopened, and hash from scratch to the committed root.
func TestSparseAndDenseLeavesSurviveReopen(t *testing.T) {
	store := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	sparse := make([]byte, 3<<20+777)
	for range 40 {
		copy(sparse[r.IntN(len(sparse)-5):], "Hello")
	}
	dense := randBytes(r, hugeBatchMin+123)
	d := startDaemon(t, store, 0)
	mustBegin(t, d)
	writeFile(t, d.path(RWView, StateDir, "sparse.bin"), sparse)
	writeFile(t, d.path(RWView, StateDir, "dense.bin"), dense)
	res := mustCommit(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, store, 0)
	if got := d.Store().Head().Root; got != res.Version.Root {
		t.Fatalf("head after reopen %s, committed %s", got, res.Version.Root)
	}
	equalBytes(t, "sparse.bin", readFile(t, d.path(CurrentView, StateDir, "sparse.bin")), sparse)
	equalBytes(t, "dense.bin", readFile(t, d.path(CurrentView, StateDir, "dense.bin")), dense)
	checkScratch(t, d.path(CurrentView), res.Version.Root)
}
