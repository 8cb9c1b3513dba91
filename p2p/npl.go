package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// LedgerID names a closed ledger: its sequence number and hash.
type LedgerID struct {
	Seq  uint64
	Hash [32]byte
}

// NPLMessage is a contract's Node Party Line message: data produced while
// executing on top of Ledger, signed by the node that ran it. The receiver
// must still check Ledger against the execution in progress; the mesh only
// guarantees the signature and that the signer is in the UNL.
type NPLMessage struct {
	Signer PeerID
	Ledger LedgerID
	Data   []byte
	Sig    [ed25519.SignatureSize]byte
}

// MaxNPLData bounds an NPL message's data.
const MaxNPLData = 1 << 20

// ErrBadNPL is wrapped by NPL validation failures.
var ErrBadNPL = errors.New("p2p: bad NPL message")

// SignNPL builds a signed NPL message.
func SignNPL(key ed25519.PrivateKey, contractID string, l LedgerID, data []byte) (NPLMessage, error) {
	if len(data) > MaxNPLData {
		return NPLMessage{}, fmt.Errorf("%w: %d bytes of data, bound %d", ErrBadNPL, len(data), MaxNPLData)
	}
	id, err := PeerIDFromKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		return NPLMessage{}, err
	}
	m := NPLMessage{Signer: id, Ledger: l, Data: data}
	copy(m.Sig[:], ed25519.Sign(key, nplMessage(contractID, l, data)))
	return m, nil
}

// Verify checks the signature for contractID.
func (m *NPLMessage) Verify(contractID string) error {
	if !verify(m.Signer, nplMessage(contractID, m.Ledger, m.Data), m.Sig[:]) {
		return fmt.Errorf("%w: signature from %s does not verify", ErrBadNPL, m.Signer)
	}
	return nil
}

// Encode returns the message's wire form (the payload of a KindNPL message).
func (m *NPLMessage) Encode() []byte {
	e := &encoder{b: make([]byte, 0, 32+8+32+64+8+len(m.Data))}
	e.fixed(m.Signer[:])
	e.u64(m.Ledger.Seq)
	e.fixed(m.Ledger.Hash[:])
	e.bytes(m.Data)
	e.fixed(m.Sig[:])
	return e.b
}

// DecodeNPL parses a KindNPL payload; every field is required.
func DecodeNPL(b []byte) (NPLMessage, error) {
	d := &decoder{b: b}
	var m NPLMessage
	d.fixed("npl.signer", m.Signer[:])
	m.Ledger.Seq = d.u64("npl.ledger.seq")
	d.fixed("npl.ledger.hash", m.Ledger.Hash[:])
	m.Data = d.bytes("npl.data", MaxNPLData)
	d.fixed("npl.sig", m.Sig[:])
	return m, d.finish()
}

// nplVerifier is the built-in Verifier for KindNPL.
func nplVerifier(contractID string) Verifier {
	return func(payload []byte) (ed25519.PublicKey, error) {
		m, err := DecodeNPL(payload)
		if err != nil {
			return nil, err
		}
		if err := m.Verify(contractID); err != nil {
			return nil, err
		}
		return m.Signer.PublicKey(), nil
	}
}
