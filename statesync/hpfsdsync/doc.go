// Package hpfsdsync implements statesync's ProofSource and ProofSink over hpfsd's control
// socket, so a node serves proofs from, and syncs into, the store its hpfsd owns.
//
// It relies on hpfs.ProtoClient (the control socket's binary mode: range-proof, change-proof,
// apply-proof and sync.begin with raw proof bytes, over a pool of connections so several proofs
// are built or applied at once) and on hpfs.Call (JSON: versions, ls). Proofs move through the
// memory each leased connection shares with hpfsd (hpfs.Lease): the Source has each proof built
// there and releases it once the response is sent; the Sink lends it as the buffer a peer's
// response is read into (statesync.BufferLender), and hpfsd verifies and stores it from there. It never opens the store
// itself (hpfsd is its only writer). The Sink is a statesync.ProofVerifier: hpfsd verifies every
// proof through merkle before storing anything, so the client hands it proofs as received
// instead of verifying range proofs twice; and a statesync.Beginner: hpfsd starts a sync from
// its head, so a node holding an older version fetches only the difference, as change proofs.
//
// It is a package of its own so that statesync's core (codec, scheduler, client, server) does
// not depend on hpfs: the node can wire any ProofSource/ProofSink.
package hpfsdsync
