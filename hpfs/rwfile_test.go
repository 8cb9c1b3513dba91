package hpfs

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"
)

// TestScratchResetFreesSpilledFileInBackground checks that reset hands a file with spilled
// leaves (and its commit mapping) to the drops group and continues in an empty file, and that a
// session that spilled nothing keeps its file.
func TestScratchResetFreesSpilledFileInBackground(t *testing.T) {
	const ls = 4096
	sc, err := newScratch(t.TempDir(), ls)
	if err != nil {
		t.Fatal(err)
	}
	var drops sync.WaitGroup
	sc.drops = &drops
	defer func() {
		sc.close()
		drops.Wait()
	}()

	quiet := sc.f
	if err := sc.reset(); err != nil {
		t.Fatal(err)
	}
	if sc.f != quiet {
		t.Fatal("reset of a scratch that spilled nothing replaced its file")
	}

	sl := sc.alloc()
	sc.memLimit = 0 // spill at once
	data := bytes.Repeat([]byte("spilled!"), ls/8)
	if err := sc.write(sl, data, 0); err != nil {
		t.Fatal(err)
	}
	sl.n = ls
	if err := sc.mapAll(); err != nil {
		t.Fatal(err)
	}
	old := sc.f
	if err := sc.reset(); err != nil {
		t.Fatal(err)
	}
	drops.Wait()
	if _, err := old.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("old scratch file after reset: %v, want closed", err)
	}
	if sc.f == old || sc.m != nil || sc.next != 0 || sc.reserved != 0 {
		t.Fatalf("scratch after reset: same file %v, mapping %v, next %d, reserved %d", sc.f == old, sc.m != nil, sc.next, sc.reserved)
	}
	if fi, err := sc.f.Stat(); err != nil || fi.Size() != 0 {
		t.Fatalf("new scratch file: %v, %v; want empty", fi, err)
	}
	// The next session's leaves land in the new file and read back.
	sl2 := sc.alloc()
	if err := sc.write(sl2, data[:100], 10); err != nil {
		t.Fatal(err)
	}
	sl2.n = 110
	got := make([]byte, 110)
	if err := sc.read(sl2, got, 0); err != nil {
		t.Fatal(err)
	}
	if want := append(make([]byte, 10), data[:100]...); !bytes.Equal(got, want) {
		t.Fatalf("read after reset: %q", got)
	}
}
