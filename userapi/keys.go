package userapi

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/hpfs/hpnode/outtree"
)

// KeyPrefix is the key-type byte HotPocket puts before every Ed25519 public key on the wire
// (0xED, "ed" in hex).
const KeyPrefix = outtree.KeyPrefix

// Hash is a 32-byte BLAKE3 digest; the same type as the output tree's, as output and state
// hashes flow between them.
type Hash = outtree.Hash

// WireKey returns the 33-byte prefixed form of pub: KeyPrefix ‖ pub.
func WireKey(pub ed25519.PublicKey) []byte {
	out := make([]byte, 0, 1+ed25519.PublicKeySize)
	out = append(out, KeyPrefix)
	return append(out, pub...)
}

// HexKey returns the "ed"-prefixed lowercase hex form of pub used in JSON messages.
func HexKey(pub ed25519.PublicKey) string { return hex.EncodeToString(WireKey(pub)) }

// ParseWireKey checks a 33-byte prefixed key and returns the Ed25519 key inside it.
func ParseWireKey(b []byte) (ed25519.PublicKey, error) {
	if len(b) != 1+ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %d bytes, want %d", len(b), 1+ed25519.PublicKeySize)
	}
	if b[0] != KeyPrefix {
		return nil, fmt.Errorf("public key: type byte %#x, want %#x", b[0], KeyPrefix)
	}
	return ed25519.PublicKey(append([]byte(nil), b[1:]...)), nil
}

// ParseHexKey parses the "ed"-prefixed hex form of a public key.
func ParseHexKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("public key %.16q: %w", s, err)
	}
	return ParseWireKey(b)
}
