// Package hpfsdsync implements statesync's ProofSource and ProofSink over hpfsd's control
// socket, so a node serves proofs from, and syncs into, the store its hpfsd owns.
//
// It relies on hpfs.Call and the ops versions, ls, range-proof, change-proof and apply-proof.
// It never opens the store itself (hpfsd is its only writer) and never trusts a proof it
// hands to hpfsd: hpfsd verifies every proof again through merkle before storing it.
//
// It is a package of its own so that statesync's core (codec, scheduler, client, server) does
// not depend on hpfs: the node can wire any ProofSource/ProofSink.
package hpfsdsync
