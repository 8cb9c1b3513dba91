package outtree

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"

	"github.com/zeebo/blake3"
)

func hashOf(parts ...[]byte) Hash {
	h := blake3.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

func leafHashes(n int) []Hash {
	hs := make([]Hash, n)
	for i := range hs {
		hs[i] = hashOf(fmt.Appendf(nil, "user %d", i))
	}
	return hs
}

// referenceRoot is HotPocket's merkle_hash_tree written as plainly as possible: sorted leaves,
// the state hash last, runs of 16 hashed together, a run of one passed up unchanged.
func referenceRoot(users []Hash, state Hash) Hash {
	level := append([]Hash(nil), users...)
	for i := 1; i < len(level); i++ { // insertion sort: independent of the code under test
		for j := i; j > 0 && string(level[j][:]) < string(level[j-1][:]); j-- {
			level[j], level[j-1] = level[j-1], level[j]
		}
	}
	level = append(level, state)
	for len(level) > 1 {
		var next []Hash
		for i := 0; i < len(level); i += 16 {
			end := min(i+16, len(level))
			if end-i == 1 {
				next = append(next, level[i])
				continue
			}
			var parts [][]byte
			for _, h := range level[i:end] {
				parts = append(parts, h[:])
			}
			next = append(next, hashOf(parts...))
		}
		level = next
	}
	return level[0]
}

func TestOutputTreeSmallCasesByHand(t *testing.T) {
	u, s := hashOf([]byte("u")), hashOf([]byte("state"))
	if got, want := New([]Hash{u}, s).Root(), hashOf(u[:], s[:]); got != want {
		t.Fatalf("one user: root %s, want blake3(user‖state) %s", got, want)
	}
	users := leafHashes(16)
	tree := New(users, s)
	sorted := referenceSorted(users)
	var parts [][]byte
	for _, h := range sorted {
		parts = append(parts, h[:])
	}
	first := hashOf(parts...)
	if got, want := tree.Root(), hashOf(first[:], s[:]); got != want {
		t.Fatalf("16 users: root %s, want blake3(blake3(16 users)‖state) %s", got, want)
	}
	// The state leaf's group has one member, so it is not hashed again: the user in the first
	// group sees [[null, 15 hashes], state].
	c, err := tree.Collapse(sorted[0])
	if err != nil || len(c.List) != 2 || !c.List[0].IsList || len(c.List[0].List) != 16 || !c.List[0].List[0].Self || c.List[1].Hash != s {
		t.Fatalf("collapsed tree %+v, %v", c, err)
	}
}

func referenceSorted(hs []Hash) []Hash {
	out := append([]Hash(nil), hs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && string(out[j][:]) < string(out[j-1][:]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestOutputTreeEveryUserFoldsToTheRoot(t *testing.T) {
	state := hashOf([]byte("state"))
	for _, n := range []int{1, 2, 14, 15, 16, 17, 31, 255, 256, 257, 300, 4096} {
		users := leafHashes(n)
		tree := New(users, state)
		if got, want := tree.Root(), referenceRoot(users, state); got != want {
			t.Fatalf("%d users: root %s, reference %s", n, got, want)
		}
		if tree.Leaves() != n+1 {
			t.Fatalf("%d users: %d leaves", n, tree.Leaves())
		}
		for _, u := range users {
			c, err := tree.Collapse(u)
			if err != nil {
				t.Fatalf("%d users: collapse: %v", n, err)
			}
			root, err := Fold(c, u)
			if err != nil || root != tree.Root() {
				t.Fatalf("%d users: fold %s, %v; root %s", n, root, err, tree.Root())
			}
			// Folding with any other self hash gives another root.
			if other, _ := Fold(c, state); other == tree.Root() {
				t.Fatalf("%d users: a wrong self hash folds to the root", n)
			}
		}
		if _, err := tree.Collapse(state); !errors.Is(err, ErrNotInTree) {
			t.Fatalf("%d users: the state leaf collapsed as a user: %v", n, err)
		}
		if _, err := tree.Collapse(hashOf([]byte("stranger"))); !errors.Is(err, ErrNotInTree) {
			t.Fatalf("%d users: a stranger's hash collapsed: %v", n, err)
		}
	}
}

func TestOutputTreeWithoutOutputsHasZeroRoot(t *testing.T) {
	tree := New(nil, hashOf([]byte("state")))
	if tree.Root() != (Hash{}) || tree.Leaves() != 0 {
		t.Fatalf("root %s, %d leaves", tree.Root(), tree.Leaves())
	}
	if _, err := tree.Collapse(Hash{}); !errors.Is(err, ErrNotInTree) {
		t.Fatalf("collapse of an empty tree: %v", err)
	}
}

func TestFoldTreeRejectsMissingOrRepeatedSelf(t *testing.T) {
	h := hashOf([]byte("x"))
	for name, tree := range map[string]Elem{
		"no self":   {IsList: true, List: []Elem{{Hash: h}}},
		"two selfs": {IsList: true, List: []Elem{{Self: true}, {IsList: true, List: []Elem{{Self: true}}}}},
		"not list":  {Self: true},
	} {
		if _, err := Fold(tree, h); err == nil {
			t.Errorf("%s: folded", name)
		}
	}
	deep := Elem{IsList: true, List: []Elem{{Self: true}}}
	for i := 0; i < 100; i++ {
		deep = Elem{IsList: true, List: []Elem{deep}}
	}
	if _, err := Fold(deep, h); err == nil {
		t.Error("a 100-level tree folded")
	}
}

func TestUserHashIsBlake3OfPrefixKeyAndOutputs(t *testing.T) {
	user := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	if UserHash(user, [][]byte{[]byte("a"), []byte("bc")}) != hashOf([]byte{0xED}, user, []byte("a"), []byte("bc")) {
		t.Fatal("UserHash is not blake3(0xED‖key‖outputs…)")
	}
}

// FuzzOutputTree: for any set of user hashes, every user's collapsed tree folds back to the root,
// and the root is the reference implementation's.
func FuzzOutputTree(f *testing.F) {
	f.Add([]byte("abc"), uint16(1))
	f.Add([]byte{}, uint16(17))
	f.Add([]byte{1, 2, 3, 4}, uint16(300))
	f.Fuzz(func(t *testing.T, seed []byte, n uint16) {
		n %= 600
		users := make([]Hash, 0, n)
		seen := map[Hash]bool{}
		for i := 0; i < int(n); i++ {
			h := hashOf(seed, []byte{byte(i), byte(i >> 8)})
			if !seen[h] {
				seen[h] = true
				users = append(users, h)
			}
		}
		state := hashOf(seed)
		tree := New(users, state)
		if len(users) == 0 {
			if tree.Root() != (Hash{}) {
				t.Fatal("empty tree with a non-zero root")
			}
			return
		}
		if tree.Root() != referenceRoot(users, state) {
			t.Fatal("root differs from the reference")
		}
		for _, u := range users {
			c, err := tree.Collapse(u)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := Fold(c, u); err != nil || r != tree.Root() {
				t.Fatalf("fold: %v", err)
			}
		}
	})
}
