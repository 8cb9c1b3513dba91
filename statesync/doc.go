// Package statesync copies a contract state tree from peers into the local hpfsd store with
// verified range and change proofs (avalanchego x/sync's design over this project's merkle
// proofs), and serves such proofs to peers.
//
// It owns the state-sync wire format (one request/response pair per p2p request of kind
// KindStateSync, codec.go), the server handler (Server, over a ProofSource), the pure fetch
// scheduler (Scheduler: which key ranges are outstanding at which peer, retries, penalties,
// splitting), the client shell that runs it (Client: requests over p2p, verification, applying
// through a ProofSink), and sync progress (Progress).
//
// It relies on merkle for every proof and verification and on p2p for authenticated QUIC
// request streams. The store is behind two interfaces: ProofSource (serving) and ProofSink
// (applying). Package statesync/hpfsdsync implements them over hpfsd's control socket, which is
// what a node uses; StoreSource and StoreSink implement them over any merkle.NodeStore (tests,
// benchmarks, in-process use). statesync itself does not import hpfs.
//
// Wire: one p2p request of kind KindStateSync (32) per proof; the body is a Request and the
// answer a Response (codec.go), both versioned and strictly bounded. A server always answers:
// a proof, a NACK listing roots it has, or an error code (bad request, busy, internal).
//
// The client applies several proofs at once (the sink must accept concurrent calls for one
// target) while it keeps fetching; a sink that verifies proofs itself (ProofVerifier) gets them
// as received, one that knows what it holds (Beginner) says so before the first fetch, and one
// that lends buffers (BufferLender: hpfsd's memory shared with the node) has responses read into
// them and applies proofs where they lie; a sink that keeps resources between applies
// (IdleCloser) is told to close them when Run returns. The server likewise encodes a response
// around the proof in the source's buffer and gives the buffer back (Proof.Release) once p2p has
// sent it.
//
// It must never apply a byte that was not verified against the target root first, never write
// outside the store (it hands proofs to the sink; it never touches a directory itself), never
// wait silently on a peer (every request has a deadline; a server that lacks a root says so with
// a NACK), and never leave a goroutine running after Run returns.
package statesync
