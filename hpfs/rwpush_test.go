package hpfs

import (
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

// A read of one page of an unchanged leaf stores the whole leaf in the kernel page cache; the
// pages must be exactly the file's bytes, before and after the file is written again.
func TestLeafPushServesExactBytesAndYieldsToWriters(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	r := rand.New(rand.NewPCG(7, 8))
	data := randBytes(r, 1<<20+12345)
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "f"), data)
	mustCommit(t, d)
	mustBegin(t, d)
	p := d.path("rw", "state", "f")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for _, off := range []int64{70000, 5, 1 << 20, 1<<20 + 8192} {
		n, err := f.ReadAt(buf, off)
		if err != nil && n == 0 {
			t.Fatal(err)
		}
		equalBytes(t, "page", buf[:n], data[off:off+int64(n)])
	}
	equalBytes(t, "whole file after pushes", readFile(t, p), data)

	// Readers of random pages while a writer rewrites random ranges: once the writer is done,
	// every byte must be the writer's.
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(uint64(g), 9))
			b := make([]byte, 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = f.ReadAt(b, rr.Int64N(int64(len(data))))
			}
		}()
	}
	for range 300 {
		off := r.IntN(len(data) - 100)
		chunk := randBytes(r, 1+r.IntN(100))
		if _, err := w.WriteAt(chunk, int64(off)); err != nil {
			t.Fatal(err)
		}
		copy(data[off:], chunk)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Reads after the writer closed may push again; they must push the new bytes.
	for range 200 {
		b := make([]byte, 4096)
		off := r.Int64N(int64(len(data)))
		n, _ := f.ReadAt(b, off)
		equalBytes(t, "page after writes", b[:n], data[off:off+int64(n)])
	}
	close(stop)
	wg.Wait()
	equalBytes(t, "whole file after writes", readFile(t, p), data)
	res := mustCommit(t, d)
	checkScratch(t, d.path("current"), res.Version.Root)
	mustBegin(t, d)
	equalBytes(t, "whole file in next session", readFile(t, p), data)
}

// Pushes decode sparse leaves into one reused buffer per push goroutine: the pages of a mostly-zero
// file, whose leaves each hold different bytes at different offsets, must read back exactly,
// in any order, with no byte of another leaf left behind.
func TestLeafPushOfSparseLeavesIsExact(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 3<<20)
	for leaf := 0; leaf < len(data)/(64<<10); leaf++ {
		for range 1 + leaf%5 {
			off := leaf*(64<<10) + r.IntN(64<<10-64)
			copy(data[off:], randBytes(r, 1+r.IntN(64)))
		}
	}
	mustBegin(t, d)
	writeFile(t, d.path("rw", "state", "sparse"), data)
	mustCommit(t, d)
	mustBegin(t, d)
	f, err := os.Open(d.path("rw", "state", "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4096)
	for _, page := range r.Perm(len(data) / 4096) {
		off := int64(page) * 4096
		n, err := f.ReadAt(b, off)
		if err != nil && n == 0 {
			t.Fatal(err)
		}
		equalBytes(t, "sparse page", b[:n], data[off:off+int64(n)])
	}
	equalBytes(t, "whole sparse file", readFile(t, d.path("rw", "state", "sparse")), data)
}
