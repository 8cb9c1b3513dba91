package hpfs

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestCommitAfterChangingPrehashedLeaves writes files front to back through the mount (their
// full leaves are hashed in the background), then changes some of those leaves in every way a
// session can (a write inside, a write across a boundary, a shrink, a shrink and regrow, a
// rename, a rewrite with the same bytes), and checks the commit against the tree hashed from
// scratch and the bytes read back. A background hash taken before a change and used after it
// would make the commit's root differ from the from-scratch one.
func TestCommitAfterChangingPrehashedLeaves(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	r := rand.New(rand.NewPCG(3, 4))
	const ls = 64 << 10
	for round := range 4 {
		mustBegin(t, d)
		state := d.path(RWView, StateDir)
		files := map[string][]byte{}
		for i := range 4 {
			name := string(rune('a'+i)) + string(rune('0'+round))
			files[name] = randBytes(r, ls*(8+i)+r.IntN(ls))
			writeFile(t, state+"/"+name, files[name])
		}
		// Full leaves that are mostly zero: hashed in the background and stored sparse.
		sparse := make([]byte, 6*ls)
		for k := range 6 {
			copy(sparse[k*ls+r.IntN(ls-8):], randBytes(r, 8))
		}
		files["z"+string(rune('0'+round))] = sparse
		writeFile(t, state+"/z"+string(rune('0'+round)), sparse)
		time.Sleep(20 * time.Millisecond) // the prehasher catches up (a few ms of hashing)
		// A write inside a hashed leaf.
		f := files["a"+string(rune('0'+round))]
		patch := randBytes(r, 100)
		copy(f[3*ls+500:], patch)
		if err := pwrite(state+"/a"+string(rune('0'+round)), patch, 3*ls+500); err != nil {
			t.Fatal(err)
		}
		// A write across a leaf boundary.
		g := files["b"+string(rune('0'+round))]
		patch = randBytes(r, 300)
		copy(g[5*ls-150:], patch)
		if err := pwrite(state+"/b"+string(rune('0'+round)), patch, 5*ls-150); err != nil {
			t.Fatal(err)
		}
		// A shrink into a hashed leaf, and a shrink then regrow of another.
		c := "c" + string(rune('0'+round))
		files[c] = files[c][:2*ls+7]
		if err := os.Truncate(state+"/"+c, int64(len(files[c]))); err != nil {
			t.Fatal(err)
		}
		e := "d" + string(rune('0'+round))
		if err := os.Truncate(state+"/"+e, 4*ls+9); err != nil {
			t.Fatal(err)
		}
		files[e] = append(files[e][:4*ls+9], make([]byte, 2*ls)...)
		if err := os.Truncate(state+"/"+e, int64(len(files[e]))); err != nil {
			t.Fatal(err)
		}
		// A rename keeps the leaves' bytes and their hashes valid.
		if err := os.Rename(state+"/"+c, state+"/moved"+c); err != nil {
			t.Fatal(err)
		}
		files["moved"+c] = files[c]
		delete(files, c)
		res := mustCommit(t, d)
		checkScratch(t, d.path(CurrentView), res.Version.Root)
		for name, want := range files {
			equalBytes(t, name, readFile(t, d.path(CurrentView, StateDir, name)), want)
		}
	}
}
