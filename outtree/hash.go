package outtree

import (
	"crypto/ed25519"
	"encoding/hex"

	"github.com/zeebo/blake3"
)

// KeyPrefix is the key-type byte HotPocket puts before every Ed25519 public key on the wire
// (0xED, "ed" in hex). The 33-byte prefixed form is also what output hashes commit to.
const KeyPrefix = 0xED

// Hash is a 32-byte BLAKE3 digest.
type Hash [32]byte

// String returns the lowercase hex form used on the JSON wire.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// UserOutputs is what the contract sent one user in one execution, in emission order.
type UserOutputs struct {
	User    ed25519.PublicKey
	Outputs [][]byte
}

// UserHash is what a user's outputs of one execution commit to, exactly as the client recomputes
// it: BLAKE3(KeyPrefix ‖ user ‖ out_1 ‖ out_2 ‖ …), outputs in the order the contract emitted them.
func UserHash(user ed25519.PublicKey, outputs [][]byte) Hash {
	h := blake3.New()
	h.Write([]byte{KeyPrefix})
	h.Write(user)
	for _, o := range outputs {
		h.Write(o)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}
