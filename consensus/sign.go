package consensus

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Signer signs on behalf of this node. The node never sees the private key; the shell may keep it in
// memory, in a file or behind an HSM.
type Signer interface {
	// PublicKey is the node's key.
	PublicKey() PubKey
	// Sign returns the 64-byte Ed25519 signature of msg.
	Sign(msg []byte) []byte
}

// Ed25519Signer is a Signer over an in-memory standard library key.
type Ed25519Signer struct{ key ed25519.PrivateKey }

// NewEd25519Signer wraps a private key; it panics on a key of the wrong size, a programming error.
func NewEd25519Signer(key ed25519.PrivateKey) *Ed25519Signer {
	if len(key) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("consensus: ed25519 private key has %d bytes", len(key)))
	}
	return &Ed25519Signer{key: key}
}

// PublicKey returns the node's public key.
func (s *Ed25519Signer) PublicKey() PubKey {
	var k PubKey
	copy(k[:], s.key.Public().(ed25519.PublicKey))
	return k
}

// Sign signs msg.
func (s *Ed25519Signer) Sign(msg []byte) []byte { return ed25519.Sign(s.key, msg) }

// Errors a caller may branch on.
var (
	// ErrBadSignature means a signature did not verify.
	ErrBadSignature = errors.New("consensus: bad signature")
	// ErrNotSigned means the payload is a valid message of a kind no node signs (input batches
	// and ledger requests/responses), which the transport accepts from anyone.
	ErrNotSigned = errors.New("consensus: message kind is not node-signed")
)

// SignedBytes is the exact byte string a stage proposal signature covers:
//
//	"hpnode/proposal/v1" ‖ u8 len(contract_id) ‖ contract_id ‖ u8 stage ‖ u64 seq ‖ u32 round ‖
//	prev_hash ‖ signer ‖ value_hash
//
// The tag keeps it distinct from every other signature the system makes (handshake, NPL, peer
// records); the contract id keeps a proposal of one contract from being replayed into another; the
// seq, round and prev hash keep it from being replayed at another ledger.
func SignedBytes(contractID string, stage uint8, seq uint64, round uint32, prev Hash, signer PubKey, valueHash Hash) []byte {
	e := enc{b: make([]byte, 0, len(TagProposal)+1+len(contractID)+1+8+4+96)}
	e.raw([]byte(TagProposal))
	e.u8(uint8(len(contractID)))
	e.raw([]byte(contractID))
	e.u8(stage)
	e.u64(seq)
	e.u32(round)
	e.hash(prev)
	e.hash(signer)
	e.hash(valueHash)
	return e.b
}

// SigVerifier checks a 64-byte signature of msg by key. Nodes use Ed25519Verify; the simulator injects
// a cheap deterministic scheme so that thousands of seeds run in seconds.
type SigVerifier func(key PubKey, msg, sig []byte) bool

// Ed25519Verify is the production SigVerifier.
func Ed25519Verify(key PubKey, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(key.Ed25519(), msg, sig)
}

// VerifyOutputSig checks a HotPocket output signature: Ed25519 over the raw 32-byte output root, as
// hotpocket-js-client verifies unl_sig.
func VerifyOutputSig(signer PubKey, root Hash, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(signer.Ed25519(), root[:], sig)
}

// ProposalSigner decodes a message payload and, if it is a stage proposal, verifies its signature
// and returns the signer. The transport calls it to drop proposals from non-UNL signers before they
// reach consensus; it needs no UNL. Other valid message kinds return ErrNotSigned.
func ProposalSigner(payload []byte) (ed25519.PublicKey, error) {
	var m Message
	if err := m.UnmarshalBinary(payload); err != nil {
		return nil, err
	}
	if m.Type != MsgProposal {
		return nil, ErrNotSigned
	}
	if err := m.Proposal.Verify(); err != nil {
		return nil, err
	}
	return append(ed25519.PublicKey(nil), m.Proposal.Signer[:]...), nil
}
