package consensus

import (
	"crypto/ed25519"
	"encoding/binary"
)

// Input is one user input as the user signed it. The user API parses the container (JSON or BSON)
// and fills Nonce and MaxLedgerSeq from it; consensus orders and admits inputs by those fields and
// hands Container to the contract untouched.
type Input struct {
	User PubKey
	// Nonce orders a user's inputs; it must grow.
	Nonce uint64
	// MaxLedgerSeq is the last ledger the input may be included in.
	MaxLedgerSeq uint64
	// Protocol is 0 for JSON, 1 for BSON (how the container is encoded).
	Protocol uint8
	// Container is the exact signed input_container bytes.
	Container []byte
	// Sig is the user's Ed25519 signature over Container.
	Sig [64]byte
}

// Hash is the user-visible input hash: blake3 of the signature.
func (in *Input) Hash() Hash { return InputHashOf(in.Sig[:]) }

// Ordered is the 40-byte ordered hash (nonce ‖ hash) that fixes the input's place in a ledger.
func (in *Input) Ordered() OrderedHash {
	var o OrderedHash
	binary.BigEndian.PutUint64(o[:8], in.Nonce)
	h := in.Hash()
	copy(o[8:], h[:])
	return o
}

// VerifyUserSig checks the user's signature over the container. It is the default input verifier; a
// node also checks that Nonce and MaxLedgerSeq match the container (userapi's parser does that).
func VerifyUserSig(in *Input) error {
	if !ed25519.Verify(in.User.Ed25519(), in.Container, in.Sig[:]) {
		return ErrBadSignature
	}
	return nil
}

func encodeInput(e *enc, in *Input) {
	e.hash(in.User)
	e.u64(in.Nonce)
	e.u64(in.MaxLedgerSeq)
	e.u8(in.Protocol)
	e.bytes(in.Container)
	e.raw(in.Sig[:])
}

func decodeInput(d *dec) Input {
	var in Input
	in.User = d.hash("input user")
	in.Nonce = d.u64("input nonce")
	in.MaxLedgerSeq = d.u64("input max ledger seq")
	in.Protocol = d.u8("input protocol")
	if in.Protocol > 1 {
		d.fail("input protocol %d", in.Protocol)
	}
	in.Container = d.bytes("input container", MaxInputBytes)
	copy(in.Sig[:], d.take(64, "input sig"))
	return in
}
