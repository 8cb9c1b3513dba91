package merkle

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// cpuClock reports the benchmark thread's CPU time (user + system) per iteration as
// "cpu-ns/op". This machine is shared with other work, so wall time per op overstates the
// cost; the thread's CPU time does not. The goroutine is locked to its thread for the
// measurement; background GC work on other threads is not counted.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(rusageThread, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusageThread is RUSAGE_THREAD (Linux).
const rusageThread = 1

func startCPU() cpuClock {
	runtime.LockOSThread()
	return cpuClock{start: cpuNow()}
}

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/op")
	runtime.UnlockOSThread()
}

// BenchmarkHashFile compares hashing a 64 MiB file into the tree (every leaf hashed, the leaf
// tree and file node built and stored) with raw BLAKE3 over the same bytes, single core.
// The ratio of their MB/s is the overhead of the tree.
func BenchmarkHashFile(b *testing.B) {
	const size = 64 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.Run("raw-blake3", func(b *testing.B) {
		b.SetBytes(size)
		c := startCPU()
		for b.Loop() {
			_ = blake3.Sum256(data)
		}
		c.report(b)
	})
	// The same bytes hashed as independent 64 KiB inputs: what BLAKE3 itself costs at the
	// leaf granularity, separating the tree's overhead from the library's per-input cost.
	b.Run("raw-blake3-64KiB-inputs", func(b *testing.B) {
		b.SetBytes(size)
		c := startCPU()
		for b.Loop() {
			for off := 0; off < size; off += 64 << 10 {
				_ = blake3.Sum256(data[off : off+64<<10])
			}
		}
		c.report(b)
	})
	b.Run("merkle", func(b *testing.B) {
		p := DefaultParams()
		b.SetBytes(size)
		c := startCPU()
		defer c.report(b)
		for b.Loop() {
			s := NewMemStore()
			e, _ := NewEditor(s, EmptyRoot(), p)
			changed := make(map[uint64]Hash, size/p.LeafSize)
			for i, off := uint64(0), 0; off < size; i, off = i+1, off+p.LeafSize {
				changed[i] = LeafHash(data[off : off+p.LeafSize])
			}
			if err := e.WriteFile("f", 0o644, size, changed); err != nil {
				b.Fatal(err)
			}
			if _, err := e.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// bigTree builds a tree of dirs × perDir files of size bytes each (leaf hashes only, no leaf
// data unless withData), returning the store and root.
func bigTree(b *testing.B, dirs, perDir, size int, withData bool) (*MemStore, Hash) {
	s := NewMemStore()
	e, _ := NewEditor(s, EmptyRoot(), DefaultParams())
	for d := range dirs {
		dir := fmt.Sprintf("d%03d", d)
		if dirs == 1 {
			dir = ""
		} else if err := e.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i := range perDir {
			var h Hash
			if withData {
				data := make([]byte, size)
				binary.BigEndian.PutUint64(data, uint64(d*perDir+i))
				h = LeafHash(data)
				_ = s.PutLeaf(h, data)
			} else {
				binary.BigEndian.PutUint64(h[:], uint64(d*perDir+i+1))
			}
			if err := e.WriteFile(joinPath(dir, fmt.Sprintf("file-%06d", i)), 0o644, uint64(size), map[uint64]Hash{0: h}); err != nil {
				b.Fatal(err)
			}
		}
	}
	root, err := e.Commit()
	if err != nil {
		b.Fatal(err)
	}
	return s, root
}

// BenchmarkUpdateOneLeaf measures the new root after changing one 64 KiB leaf of one file in a
// tree of 100k files (target < 200 µs): 100 directories of 1000 files, and one flat directory
// of 100k files. The tree is built once, outside the timer; the Editor is reused so its node
// cache is warm, as in hpfs. "+hash" includes hashing the 64 KiB leaf.
func BenchmarkUpdateOneLeaf(b *testing.B) {
	leaf := make([]byte, 64<<10)
	for _, shape := range []struct {
		name         string
		dirs, perDir int
	}{{"100x1000", 100, 1000}, {"flat100k", 1, 100000}} {
		s, root := bigTree(b, shape.dirs, shape.perDir, 64<<10, false)
		for _, withHash := range []bool{false, true} {
			name := shape.name
			if withHash {
				name += "+hash"
			}
			b.Run(name, func(b *testing.B) {
				e, err := NewEditor(s, root, DefaultParams())
				if err != nil {
					b.Fatal(err)
				}
				i := 0
				c := startCPU()
				defer c.report(b)
				for b.Loop() {
					i++
					path := fmt.Sprintf("file-%06d", (i*7919)%shape.perDir)
					if shape.dirs > 1 {
						path = fmt.Sprintf("d%03d/%s", i%shape.dirs, path)
					}
					var h Hash
					if withHash {
						binary.BigEndian.PutUint64(leaf, uint64(i))
						h = LeafHash(leaf)
					} else {
						binary.BigEndian.PutUint64(h[8:], uint64(i))
					}
					if err := e.WriteFile(path, 0o644, 64<<10, map[uint64]Hash{0: h}); err != nil {
						b.Fatal(err)
					}
					if _, err := e.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRangeProofSize proves and verifies ranges of 1, 100 and 10k entries in a tree of
// 20k files of 100 bytes (each file is two entries: its metadata and its leaf), reporting the
// encoded proof size.
func BenchmarkRangeProofSize(b *testing.B) {
	s, root := bigTree(b, 20, 1000, 100, true)
	start, _ := KeyOf("d005/file-000500")
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			var size int
			for b.Loop() {
				p, err := NewRangeProof(s, root, start, nil, n, 0)
				if err != nil {
					b.Fatal(err)
				}
				v, err := VerifyRangeProof(p, root, start, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(v.Entries) != n {
					b.Fatalf("%d entries, want %d", len(v.Entries), n)
				}
				enc, _ := p.MarshalBinary()
				size = len(enc)
			}
			b.ReportMetric(float64(size), "proof-bytes")
			b.ReportMetric(float64(size)/float64(n), "bytes/entry")
		})
	}
}

// BenchmarkChangeProofOneLeaf proves the change of one 100-byte leaf between two roots of a
// 20k-file tree over the whole key space, reporting its size next to the full range proof's.
func BenchmarkChangeProofOneLeaf(b *testing.B) {
	s, root1 := bigTree(b, 20, 1000, 100, true)
	e, _ := NewEditor(s, root1, DefaultParams())
	data := make([]byte, 100)
	data[0] = 0xff
	h := LeafHash(data)
	_ = s.PutLeaf(h, data)
	if err := e.WriteFile("d007/file-000123", 0o644, 100, map[uint64]Hash{0: h}); err != nil {
		b.Fatal(err)
	}
	root2, err := e.Commit()
	if err != nil {
		b.Fatal(err)
	}
	var size int
	for b.Loop() {
		p, err := NewChangeProof(s, root1, root2, Key{}, nil, 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := VerifyChangeProof(p, s, root1, root2, Key{}, nil); err != nil {
			b.Fatal(err)
		}
		enc, _ := p.MarshalBinary()
		size = len(enc)
	}
	full, _ := NewRangeProof(s, root2, Key{}, nil, 0, 0)
	fb, _ := full.MarshalBinary()
	b.ReportMetric(float64(size), "proof-bytes")
	b.ReportMetric(float64(len(fb)), "full-range-proof-bytes")
}

// BenchmarkSyncTree rebuilds a 20k-file tree (40k entries, 2 MB of leaf data) in an empty
// store from range proofs of at most 1000 entries, verified and applied through a Syncer.
func BenchmarkSyncTree(b *testing.B) {
	s, root := bigTree(b, 20, 1000, 100, true)
	b.SetBytes(20000 * 100)
	for b.Loop() {
		client := NewMemStore()
		sy := NewSyncer(client, root, DefaultParams())
		for !sy.Done() {
			r := sy.Remaining()[0]
			p, err := NewRangeProof(s, root, r.Start, r.End, 1000, 0)
			if err != nil {
				b.Fatal(err)
			}
			v, err := VerifyRangeProof(p, root, r.Start, r.End)
			if err != nil {
				b.Fatal(err)
			}
			if err := sy.Apply(v); err != nil {
				b.Fatal(err)
			}
		}
	}
}
