package userapi

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
	if got, want := NewOutputTree([]Hash{u}, s).Root(), hashOf(u[:], s[:]); got != want {
		t.Fatalf("one user: root %s, want blake3(user‖state) %s", got, want)
	}
	users := leafHashes(16)
	tree := NewOutputTree(users, s)
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
		tree := NewOutputTree(users, state)
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
			root, err := FoldTree(c, u)
			if err != nil || root != tree.Root() {
				t.Fatalf("%d users: fold %s, %v; root %s", n, root, err, tree.Root())
			}
			// Folding with any other self hash gives another root.
			if other, _ := FoldTree(c, state); other == tree.Root() {
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
	tree := NewOutputTree(nil, hashOf([]byte("state")))
	if tree.Root() != (Hash{}) || tree.Leaves() != 0 {
		t.Fatalf("root %s, %d leaves", tree.Root(), tree.Leaves())
	}
	if _, err := tree.Collapse(Hash{}); !errors.Is(err, ErrNotInTree) {
		t.Fatalf("collapse of an empty tree: %v", err)
	}
}

func TestFoldTreeRejectsMissingOrRepeatedSelf(t *testing.T) {
	h := hashOf([]byte("x"))
	for name, tree := range map[string]TreeElem{
		"no self":   {IsList: true, List: []TreeElem{{Hash: h}}},
		"two selfs": {IsList: true, List: []TreeElem{{Self: true}, {IsList: true, List: []TreeElem{{Self: true}}}}},
		"not list":  {Self: true},
	} {
		if _, err := FoldTree(tree, h); err == nil {
			t.Errorf("%s: folded", name)
		}
	}
	deep := TreeElem{IsList: true, List: []TreeElem{{Self: true}}}
	for i := 0; i < 100; i++ {
		deep = TreeElem{IsList: true, List: []TreeElem{deep}}
	}
	if _, err := FoldTree(deep, h); err == nil {
		t.Error("a 100-level tree folded")
	}
}

func TestVerifyOutputTrustThreshold(t *testing.T) {
	keys := make([]ed25519.PrivateKey, 5)
	var pubs []ed25519.PublicKey
	for i := range keys {
		keys[i] = userKey(200 + i)
		pubs = append(pubs, keys[i].Public().(ed25519.PublicKey))
	}
	user := userKey(1).Public().(ed25519.PublicKey)
	outs := [][]byte{[]byte("a"), []byte("bc")}
	uh := UserOutputHash(user, outs)
	if uh != hashOf([]byte{0xED}, user, []byte("a"), []byte("bc")) {
		t.Fatal("UserOutputHash is not blake3(0xED‖key‖outputs…)")
	}
	tree := NewOutputTree(append(leafHashes(20), uh), hashOf([]byte("s")))
	c, _ := tree.Collapse(uh)
	sigs := func(n int) []OutputSig {
		var s []OutputSig
		for _, k := range keys[:n] {
			s = append(s, SignOutputRoot(k, tree.Root()))
		}
		return s
	}
	if _, err := VerifyOutputTrust(user, outs, uh, c, sigs(4), pubs); err != nil {
		t.Fatalf("4 of 5 (80%%): %v", err)
	}
	if _, err := VerifyOutputTrust(user, outs, uh, c, sigs(3), pubs); err == nil {
		t.Fatal("3 of 5 (60%) passed")
	}
	dup := append(sigs(3), sigs(3)...)
	if _, err := VerifyOutputTrust(user, outs, uh, c, dup, pubs); err == nil {
		t.Fatal("a repeated signer counted twice")
	}
	stranger := SignOutputRoot(userKey(999), tree.Root())
	if _, err := VerifyOutputTrust(user, outs, uh, c, append(sigs(3), stranger), pubs); err == nil {
		t.Fatal("an untrusted signer counted")
	}
	forged := sigs(4)
	forged[3].Sig = append([]byte(nil), forged[3].Sig...)
	forged[3].Sig[0] ^= 1
	if _, err := VerifyOutputTrust(user, outs, uh, c, forged, pubs); err == nil {
		t.Fatal("a bad signature counted")
	}
	if _, err := VerifyOutputTrust(user, [][]byte{[]byte("a"), []byte("bd")}, uh, c, sigs(5), pubs); err == nil {
		t.Fatal("altered outputs passed")
	}
	if _, err := VerifyOutputTrust(user, [][]byte{[]byte("ab"), []byte("c")}, uh, c, sigs(5), pubs); err != nil {
		// Outputs are concatenated, as on HotPocket and in the client: splitting differently
		// gives the same hash. This documents the client's rule, it is not a choice of ours.
		t.Fatalf("re-split outputs: %v", err)
	}
	tampered := c
	tampered.List = append([]TreeElem(nil), c.List...)
	tampered.List[len(tampered.List)-1] = TreeElem{Hash: hashOf([]byte("other state"))}
	if _, err := VerifyOutputTrust(user, outs, uh, tampered, sigs(5), pubs); err == nil {
		t.Fatal("a tampered tree passed")
	}
	if _, err := VerifyOutputTrust(user, outs, uh, c, sigs(5), nil); err == nil {
		t.Fatal("passed with no trusted keys")
	}
}

func TestOutputSigMessageIsTheRawRoot(t *testing.T) {
	root := hashOf([]byte("r"))
	if m := OutputSigMessage(root); string(m) != string(root[:]) {
		t.Fatal("the signed message is not the raw 32-byte root the client verifies")
	}
	k := userKey(3)
	s := SignOutputRoot(k, root)
	if !ed25519.Verify(k.Public().(ed25519.PublicKey), root[:], s.Sig) || string(s.Signer) != string(k.Public().(ed25519.PublicKey)) {
		t.Fatal("SignOutputRoot does not verify over the root")
	}
}
