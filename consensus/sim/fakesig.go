package sim

import (
	"github.com/hpfs/hpnode/consensus"
	"github.com/zeebo/blake3"
)

// fakeSigner signs with a keyed hash of the public key: deterministic, cheap and verifiable from the
// public key alone. It keeps a simulated seed in the microseconds; it is not a signature scheme and
// the simulator's correctness checks do not rely on unforgeability (Byzantine nodes in the
// simulator sign only as themselves; forged signatures are tested with real Ed25519 in package
// consensus).
type fakeSigner struct{ pub consensus.PubKey }

func (s fakeSigner) PublicKey() consensus.PubKey { return s.pub }

func (s fakeSigner) Sign(msg []byte) []byte { return fakeSig(s.pub, msg) }

func fakeSig(pub consensus.PubKey, msg []byte) []byte {
	b := make([]byte, 0, len(pub)+len(msg))
	b = append(append(b, pub[:]...), msg...)
	h := blake3.Sum256(b)
	out := make([]byte, 64)
	copy(out, h[:])
	copy(out[32:], pub[:])
	return out
}

func fakeVerify(pub consensus.PubKey, msg, sig []byte) bool {
	want := fakeSig(pub, msg)
	if len(sig) != len(want) {
		return false
	}
	for i := range want {
		if want[i] != sig[i] {
			return false
		}
	}
	return true
}

// fakeVerifyInput accepts an input whose signature is fakeSig of its container.
func fakeVerifyInput(in *consensus.Input) error {
	if !fakeVerify(in.User, in.Container, in.Sig[:]) {
		return consensus.ErrBadSignature
	}
	return nil
}
