package p2p

import (
	"crypto/ed25519"
	"encoding/binary"
)

// Domain-separation prefixes. Every signature this package makes or checks
// starts with one of them, so no signature can be replayed as another kind
// (HotPocket signed raw peer-chosen challenges with its consensus key).
const (
	domainHandshake  = "hpnode/p2p/handshake/v1\x00"
	domainPeerRecord = "hpnode/p2p/peer-record/v1\x00"
	domainNPL        = "hpnode/npl/v1\x00"
)

// Handshake roles, part of the signed bytes so a dialer's proof can never be
// reflected back as a listener's.
const (
	roleDialer   = 0
	roleListener = 1
)

// handshakeMessage is what each side signs: both fresh challenges, both keys,
// the contract id, the signer's role and keying material exported from this
// very TLS session. A recorded proof fails on a new connection because the
// other side's challenge and the exporter differ.
func handshakeMessage(contractID string, role uint8, dialerCh, listenerCh [32]byte, signer, peer PeerID, exporter []byte) []byte {
	e := &encoder{b: make([]byte, 0, 256)}
	e.fixed([]byte(domainHandshake))
	e.bytes([]byte(contractID))
	e.u8(role)
	e.fixed(dialerCh[:])
	e.fixed(listenerCh[:])
	e.fixed(signer[:])
	e.fixed(peer[:])
	e.bytes(exporter)
	return e.b
}

// recordMessage is what a peer record's owner signs.
func recordMessage(contractID string, key PeerID, addr string, unixMilli uint64) []byte {
	e := &encoder{b: make([]byte, 0, 128+len(addr))}
	e.fixed([]byte(domainPeerRecord))
	e.bytes([]byte(contractID))
	e.fixed(key[:])
	e.bytes([]byte(addr))
	e.u64(unixMilli)
	return e.b
}

// nplMessage is what an NPL sender signs: the contract, the ledger the
// message belongs to and the data.
func nplMessage(contractID string, l LedgerID, data []byte) []byte {
	e := &encoder{b: make([]byte, 0, 96+len(data))}
	e.fixed([]byte(domainNPL))
	e.bytes([]byte(contractID))
	e.b = binary.BigEndian.AppendUint64(e.b, l.Seq)
	e.fixed(l.Hash[:])
	e.bytes(data)
	return e.b
}

func verify(k PeerID, msg []byte, sig []byte) bool {
	return ed25519.Verify(k.PublicKey(), msg, sig)
}
