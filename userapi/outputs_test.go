package userapi

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/hpfs/hpnode/outtree"
)

// testHash is BLAKE3 of s: distinct, reproducible hashes for tests.
func testHash(s string) Hash { return Hash(blake3.Sum256([]byte(s))) }

// userHashes returns n distinct user output hashes.
func userHashes(n int) []Hash {
	hs := make([]Hash, n)
	for i := range hs {
		hs[i] = testHash(fmt.Sprint("user ", i))
	}
	return hs
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
	uh := outtree.UserHash(user, outs)
	tree := outtree.New(append(userHashes(20), uh), testHash("s"))
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
	tampered.List = append([]outtree.Elem(nil), c.List...)
	tampered.List[len(tampered.List)-1] = outtree.Elem{Hash: testHash("other state")}
	if _, err := VerifyOutputTrust(user, outs, uh, tampered, sigs(5), pubs); err == nil {
		t.Fatal("a tampered tree passed")
	}
	if _, err := VerifyOutputTrust(user, outs, uh, c, sigs(5), nil); err == nil {
		t.Fatal("passed with no trusted keys")
	}
}

func TestOutputSigMessageIsTheRawRoot(t *testing.T) {
	root := testHash("r")
	if m := OutputSigMessage(root); string(m) != string(root[:]) {
		t.Fatal("the signed message is not the raw 32-byte root the client verifies")
	}
	k := userKey(3)
	s := SignOutputRoot(k, root)
	if !ed25519.Verify(k.Public().(ed25519.PublicKey), root[:], s.Sig) || string(s.Signer) != string(k.Public().(ed25519.PublicKey)) {
		t.Fatal("SignOutputRoot does not verify over the root")
	}
}
