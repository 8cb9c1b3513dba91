// Package merkle is the BLAKE3 Merkle tree of a file tree (directories, files, symlinks) and the
// range and change proofs over it.
//
// It owns the byte layout of every hashed object, the canonical key order of entries, proof
// construction and verification, and the sync-side applier of verified proofs. It relies only on
// a NodeStore interface for persistence. It never touches FUSE, the network or a real directory.
package merkle
