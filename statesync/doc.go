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
// It relies on merkle for every proof and verification, on p2p for authenticated QUIC request
// streams, and on hpfsd's control socket (hpfs.Call) for the store: HPFSSource serves proofs
// from it, HPFSSink applies proofs through it. StoreSource and StoreSink do the same over any
// merkle.NodeStore (tests, benchmarks, and in-process use).
//
// It must never apply a byte that was not verified against the target root first, never write
// outside the store (it hands proofs to the sink; it never touches a directory itself), never
// wait silently on a peer (every request has a deadline; a server that lacks a root says so with
// a NACK), and never leave a goroutine running after Run returns.
package statesync
