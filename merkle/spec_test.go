package merkle

import (
	"encoding/binary"
	"math/bits"
	"testing"

	"github.com/zeebo/blake3"
)

// TestGoldenRootFromDocumentedLayout recomputes the golden tree's root from the byte layout as
// doc.go states it, with none of the package's encoders: proof that the documentation is
// enough for another implementation to reproduce a root.
func TestGoldenRootFromDocumentedLayout(t *testing.T) {
	sum := func(b []byte) [32]byte { return blake3.Sum256(b) }
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	be64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	leaf := func(d string) [32]byte { return sum(cat([]byte{'L'}, []byte(d))) }
	// A name's height decides where directory nodes end.
	height := func(name string) int {
		h := sum(cat([]byte{'B'}, []byte(name)))
		return bits.TrailingZeros64(binary.LittleEndian.Uint64(h[:8])) / 5
	}
	type ent struct {
		name string
		kind byte
		mode uint32
		size uint64
		hash [32]byte
	}
	// dir chunks entries into 'D' nodes cut after names of height > 0, then stacks 'I' levels
	// (cut after a child whose last name has height > level) until one node remains.
	type ref struct {
		first string
		count uint64
		hash  [32]byte
		last  string
	}
	dir := func(es ...ent) [32]byte {
		var refs []ref
		start := 0
		for i, e := range es {
			if height(e.name) == 0 && i != len(es)-1 {
				continue
			}
			b := cat([]byte{'D'}, be32(uint32(i+1-start)))
			for _, e := range es[start : i+1] {
				b = cat(b, []byte{byte(len(e.name))}, []byte(e.name), []byte{e.kind}, be32(e.mode), be64(e.size), e.hash[:])
			}
			refs = append(refs, ref{es[start].name, uint64(i + 1 - start), sum(b), e.name})
			start = i + 1
		}
		for level := 1; len(refs) > 1; level++ {
			var up []ref
			start := 0
			for i, r := range refs {
				if height(r.last) <= level && i != len(refs)-1 {
					continue
				}
				b := cat([]byte{'I', byte(level)}, be32(uint32(i+1-start)))
				var total uint64
				for _, k := range refs[start : i+1] {
					b = cat(b, []byte{byte(len(k.first))}, []byte(k.first), be64(k.count), k.hash[:])
					total += k.count
				}
				up = append(up, ref{refs[start].first, total, sum(b), r.last})
				start = i + 1
			}
			refs = up
		}
		return refs[0].hash
	}
	file := func(mode uint32, size uint64, leafSize uint32, root [32]byte) [32]byte {
		return sum(cat([]byte{'F'}, be32(mode), be64(size), be32(leafSize), root[:]))
	}
	tree := func(count uint64, l, r [32]byte) [32]byte { return sum(cat([]byte{'T'}, be64(count), l[:], r[:])) }

	// "hello world" in 4-byte leaves: "hell" "o wo" "rld"; 3 leaves split 2 | 1.
	aRoot := tree(3, tree(2, leaf("hell"), leaf("o wo")), leaf("rld"))
	a := file(0o644, 11, 4, aRoot)
	ln := sum(cat([]byte{'S'}, be32(5), []byte("a.txt")))
	state := dir(ent{"a.txt", 2, 0o644, 11, a}, ent{"ln", 3, 0o777, 5, ln})
	patch := file(0o600, 2, 4, leaf("{}"))
	root := dir(ent{"patch.cfg", 2, 0o600, 2, patch}, ent{"state", 1, 0o755, 2, state})
	if got, want := Hash(root).String(), "c9b5c503c739fb9cf2f62e5ba06d4f2cd52d742190e48a37798a46a966cb785c"; got != want {
		t.Fatalf("root from the documented layout = %s, golden %s", got, want)
	}
	if got := Hash(sum(cat([]byte{'D'}, be32(0)))); got != EmptyRoot() {
		t.Fatalf("empty directory from the documented layout = %s", got)
	}
}
