package userapi

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/hpfs/hpnode/outtree"
	"github.com/zeebo/blake3"
)

// InputHash is an input's hash as HotPocket and the client compute it: BLAKE3 of its signature.
// Statuses are matched by it and ledgers record it.
func InputHash(sig []byte) Hash { return Hash(blake3.Sum256(sig)) }

// OutputSigMessage is the exact message a UNL node signs for a round's outputs: the raw 32-byte
// root, because that is what the client verifies (crypto_sign_verify_detached(sig, root, key)).
// It cannot carry a domain tag; every other signature in hpnode must therefore sign a message that
// is never exactly 32 bytes, so an output signature and any other can never be confused.
func OutputSigMessage(root Hash) []byte { return append([]byte(nil), root[:]...) }

// SignOutputRoot is this node's unl_sig entry for a round whose output tree root is root.
func SignOutputRoot(priv ed25519.PrivateKey, root Hash) OutputSig {
	return OutputSig{Signer: priv.Public().(ed25519.PublicKey), Sig: ed25519.Sign(priv, OutputSigMessage(root))}
}

// OutputSig is one UNL node's signature over a round's output root.
type OutputSig struct {
	Signer ed25519.PublicKey
	Sig    []byte
}

// OutputTrustThreshold is the client's outputValidationPassThreshold: the share of the trusted
// UNL whose valid signatures an output needs.
const OutputTrustThreshold = 0.8

// VerifyOutputTrust repeats the client's verifyContractOutputTrust in Go: the output hash of user's
// outputs must equal outputHash, the collapsed tree must fold (with outputHash as self) to a root,
// and distinct trusted signers with valid signatures over that root must be at least 80% of
// trusted. It returns the root on success.
func VerifyOutputTrust(user ed25519.PublicKey, outputs [][]byte, outputHash Hash, tree outtree.Elem, sigs []OutputSig, trusted []ed25519.PublicKey) (Hash, error) {
	if got := outtree.UserHash(user, outputs); got != outputHash {
		return Hash{}, fmt.Errorf("userapi: output hash %s, outputs hash to %s", outputHash, got)
	}
	root, err := outtree.Fold(tree, outputHash)
	if err != nil {
		return Hash{}, err
	}
	if len(trusted) == 0 {
		return Hash{}, errors.New("userapi: no trusted keys")
	}
	isTrusted := make(map[string]bool, len(trusted))
	for _, k := range trusted {
		isTrusted[string(k)] = true
	}
	passed := make(map[string]bool)
	for _, s := range sigs {
		k := string(s.Signer)
		if passed[k] || !isTrusted[k] || len(s.Signer) != ed25519.PublicKeySize {
			continue
		}
		if ed25519.Verify(s.Signer, root[:], s.Sig) {
			passed[k] = true
		}
	}
	if float64(len(passed))/float64(len(isTrusted)) < OutputTrustThreshold {
		return Hash{}, fmt.Errorf("userapi: %d of %d trusted keys signed the output root", len(passed), len(isTrusted))
	}
	return root, nil
}
