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
// Streams: the dialer opens one bidirectional control stream per connection
// (QUIC urgency 0, so it is scheduled before anything else). It carries the
// handshake, then every message: consensus kinds, NPL, peer records and
// pings. Each request of the request/response API opens its own
// bidirectional stream at a lower urgency, so bulk transfers never delay
// consensus traffic.
//
// Metrics: the Metrics interface (metrics.go) is called for every message and
// byte in and out per peer and kind, for drops, and for round-trip times;
// CounterMetrics is an in-memory implementation, NopMetrics discards.
package p2p
