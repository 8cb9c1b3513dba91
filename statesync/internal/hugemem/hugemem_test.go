package hugemem

import (
	"testing"
	"unsafe"
)

func TestAllocLengthCapacityAlignment(t *testing.T) {
	for _, c := range []struct{ n, c int }{{0, 0}, {10, 5}, {100, 4096}, {0, Min}, {Min + 1, 0}, {3 << 20, 5 << 20}} {
		b := Alloc(c.n, c.c)
		if len(b) != c.n || cap(b) < max(c.n, c.c) {
			t.Fatalf("Alloc(%d, %d): len %d cap %d", c.n, c.c, len(b), cap(b))
		}
		b = b[:cap(b)]
		for i, x := range b {
			if x != 0 {
				t.Fatalf("Alloc(%d, %d): byte %d is %d", c.n, c.c, i, x)
			}
		}
		if max(c.n, c.c) >= Min && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%page != 0 {
			t.Fatalf("Alloc(%d, %d) is not 2 MiB-aligned", c.n, c.c)
		}
	}
}
