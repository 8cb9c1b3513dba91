// Package p2p owns the peer mesh between hpnode processes: QUIC connections
// (quic-go, TLS 1.3) authenticated by each node's Ed25519 key, the framed
// binary wire format, signed peer discovery, per-peer rate limits, UNL
// filtering at the boundary, and a request/response API for state sync.
//
// It relies on quic-go for transport, crypto/ed25519 for identities and on
// its caller (package node) for the UNL, for verifiers of payload kinds it
// does not own (consensus proposals are opaque bytes here) and for the
// directory where the known-peer file lives.
//
// It must never interpret consensus payloads beyond the verifier the caller
// registers, never sign bytes a peer chose without a domain-separation prefix
// (HotPocket's challenge signing oracle), never trust a length field before
// checking it against a bound, and never let one peer's input crash, stall or
// starve the node or its other peers.
//
// Wire layout, all integers big-endian:
//
//	frame   = u32 bodyLen | body               (bodyLen <= the stream's bound)
//	body    = u8 version (=1) | u8 kind | fields of that kind
//	bytes   = uvarint len | len bytes          (len <= the field's bound)
//
// Streams: the dialer opens one bidirectional control stream per connection;
// it carries the handshake, then peer records and pings. After the handshake
// each side opens one unidirectional message stream (QUIC urgency 0, sent
// before anything else) for application kinds: consensus proposals, user
// input batches, NPL. Each request of the request/response API opens its own
// bidirectional stream at urgency 5, so bulk transfers never delay consensus
// traffic, and gossip never sits in front of a proposal.
//
// Lanes (lane.go): a request travels on a lane when the peer has one, a TLS 1.3
// connection over TCP to the port number of the peer's QUIC listener,
// accepted only from a registered peer's key and carrying one request at a
// time in the request stream's format; quic-go's per-packet cost makes a
// bulk response four times dearer on a QUIC stream. Without a lane (TCP port
// closed, all busy, disabled) the request opens a QUIC stream as above.
//
// Handshake: TLS 1.3 with a self-signed certificate over the node key (both
// sides present one; the certificate's key is the identity). Then on the
// control stream: dialer hello → listener hello + proof → dialer proof,
// where each proof signs (domain prefix, contract id, role, both fresh
// challenges, both keys, keying material exported from this TLS session).
// A wrong contract id, a hello key that is not the certificate key, or a
// bad proof is refused with a Refuse frame and a CONNECTION_CLOSE whose
// reason says why. Of two connections between one pair, both ends keep the
// same one (Node.prefer).
//
// Abuse: every frame is charged to a per-peer bytes/min bucket and every
// bad message to a bad/min bucket; a peer over either is cut off (one Warn
// line "p2p: peer cut off" with the reason) and refused for Config.CutOff.
// A host that keeps failing handshakes is cut off the same way and refused
// before TLS.
//
// Metrics: the Metrics interface (metrics.go) is called for every message and
// byte in and out per peer and kind, for drops, and for round-trip times;
// CounterMetrics is an in-memory implementation, NopMetrics discards.
package p2p
