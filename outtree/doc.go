// Package outtree is HotPocket's output hash tree (util/merkle_hash_tree.cpp, reference §1.8): the
// per-user output hash, the tree over one execution's user hashes and the post-execution state hash
// whose root every UNL node signs and votes on, the collapsed view of that tree a user receives in
// contract_output, and the client's fold of it.
//
// It owns only the hashing: hpnode computes the root after an execution, the ledger checks stored
// outputs against it, and the user API sends the collapsed trees. It must not depend on any other
// hpnode package, so that each of them can use it; it does no I/O and holds no state.
package outtree
