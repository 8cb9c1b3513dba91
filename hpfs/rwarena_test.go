package hpfs

import (
	"bytes"
	"testing"
)

// TestArenaClone checks that clones are exact, independent of their source, do not overlap one
// another across chunk boundaries, and that reset reuses the chunks.
func TestArenaClone(t *testing.T) {
	var a arena
	var got [][]byte
	var want [][]byte
	src := make([]byte, 16<<10)
	for i := range 1200 { // 1200 × ~8 KiB passes several chunks
		n := 1 + i*997%(16<<10)
		for j := range src[:n] {
			src[j] = byte(i + j)
		}
		got = append(got, a.clone(src[:n]))
		want = append(want, bytes.Clone(src[:n]))
		clear(src)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("clone %d changed", i)
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("clone %d has room to grow into its neighbour: cap %d len %d", i, cap(got[i]), len(got[i]))
		}
	}
	if len(a.chunks) < 2 {
		t.Fatalf("chunks = %d, want the clones to span several", len(a.chunks))
	}
	if a.used < uint64(len(got)) {
		t.Fatalf("used = %d", a.used)
	}
	chunks := len(a.chunks)
	a.reset()
	if a.used != 0 {
		t.Fatalf("used after reset = %d", a.used)
	}
	b := a.clone([]byte("again"))
	if string(b) != "again" || len(a.chunks) != chunks {
		t.Fatalf("after reset: %q, %d chunks (had %d)", b, len(a.chunks), chunks)
	}
	if a.clone(nil) != nil {
		t.Fatal("empty clone is not nil")
	}
}

// TestScratchArenaBudget checks that the bytes of forgotten extents still count against the
// memory budget until reset, so the arena stays bounded: a slot that cannot get arena room spills
// to the file and reads back the same.
func TestScratchArenaBudget(t *testing.T) {
	sc, err := newScratch(t.TempDir(), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.close()
	sc.memLimit = 10 << 10
	data := bytes.Repeat([]byte{7}, 4<<10)
	a := sc.alloc()
	if err := sc.write(a, data, 0); err != nil {
		t.Fatal(err)
	}
	a.n, a.hw = 4<<10, 4<<10
	sc.forget(a) // a deleted file: its live bytes leave the budget, its arena bytes do not
	for i := range 2 {
		sl := sc.alloc()
		if err := sc.write(sl, data, 0); err != nil {
			t.Fatal(err)
		}
		sl.n, sl.hw = 4<<10, 4<<10
		if spilled := i == 1; sl.many != spilled {
			t.Fatalf("slot %d spilled = %v, want %v (arena used %d)", i, sl.many, spilled, sc.arena.used)
		}
		got := make([]byte, 4<<10)
		if err := sc.read(sl, got, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("slot %d reads back wrong", i)
		}
	}
	if err := sc.reset(); err != nil {
		t.Fatal(err)
	}
	sl := sc.alloc()
	if err := sc.write(sl, data, 0); err != nil {
		t.Fatal(err)
	}
	if sl.many {
		t.Fatal("reset did not give the arena budget back")
	}
}
