// Package hpfs is the versioned, crash-safe state filesystem: the FUSE tree served under a mount
// directory, its read-write and read-only sessions, and the pebble store of versions behind it.
//
// It relies on merkle for every hash and proof. It owns the store directory exclusively; nothing
// else may open it. It knows nothing of consensus, peers or contracts.
package hpfs
