package hpfs

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hpfs/hpnode/merkle"
)

func TestFileCacheServesExactBytesAndStaysBounded(t *testing.T) {
	mem := merkle.NewMemStore()
	p := merkle.Params{LeafSize: 64}
	var entries []merkle.Entry
	var contents [][]byte
	for i := range 8 {
		data := make([]byte, 200+i)
		for j := range data {
			data[j] = byte(i*7 + j)
		}
		changed := map[uint64]merkle.Hash{}
		for k := 0; k*64 < len(data); k++ {
			leaf := data[k*64 : min(len(data), (k+1)*64)]
			h := merkle.LeafHash(leaf)
			mem.PutLeaf(h, leaf)
			changed[uint64(k)] = h
		}
		ed, err := merkle.NewEditor(mem, merkle.EmptyRoot(), p)
		if err != nil {
			t.Fatal(err)
		}
		if err := ed.WriteFile("f", 0o644, uint64(len(data)), changed); err != nil {
			t.Fatal(err)
		}
		root, err := ed.Commit()
		if err != nil {
			t.Fatal(err)
		}
		e, err := merkle.Lookup(mem, root, "f")
		if err != nil {
			t.Fatal(err)
		}
		entries, contents = append(entries, e), append(contents, data)
	}
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := newFileCache(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for i, e := range entries {
			f, ok, err := c.open(mem, e)
			if err != nil || !ok {
				t.Fatalf("round %d open %d: ok=%v err=%v", round, i, ok, err)
			}
			got, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			equalBytes(t, "cached file", got, contents[i])
			if c.size > c.limit {
				t.Fatalf("cache holds %d bytes, limit %d", c.size, c.limit)
			}
		}
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != c.ll.Len() || len(names) > 4 {
		t.Fatalf("%d files on disk, %d tracked; want ≤ 4 and equal", len(names), c.ll.Len())
	}
	big := merkle.Entry{Kind: merkle.KindFile, Size: 300, Hash: entries[0].Hash}
	if _, ok, err := c.open(mem, big); ok || err != nil {
		t.Fatalf("file above limit/4 cached: ok=%v err=%v", ok, err)
	}
}
