// Package merkle is the BLAKE3 Merkle tree of a file tree (directories, files, symlinks) and the
// range and change proofs over it.
//
// It owns the byte layout of every hashed object, the canonical key order of entries, proof
// construction and verification, and the sync-side applier of verified proofs. It relies only on
// a NodeStore interface for persistence (and zeebo/blake3). It never touches FUSE, the network or
// a real directory, never logs, and never starts goroutines.
//
// # Objects and hashes
//
// The tree is content-addressed like git: every object is stored under its BLAKE3-256 hash and
// never changes; a version of the state is a root hash and versions share unchanged subtrees.
// All integers are big-endian and fixed-width; a name is one length byte (1..255) followed by
// its bytes. Every hashed object starts with a one-byte domain tag, so bytes of one kind can
// never be read as another kind under the same hash:
//
//	leaf data      hash = BLAKE3('L' || data)                  stored with PutLeaf, data only
//	symlink node   'S' || u32 len(target) || target              hash = BLAKE3(node)
//	file node      'F' || u32 mode || u64 size || u32 leafSize || 32-byte leaf-tree root
//	leaf-tree node 'T' || u64 count || 32-byte left || 32-byte right   (count >= 2)
//	dir chunk      'D' || u32 n || n × (name || u8 kind || u32 mode || u64 size || 32-byte hash)
//	dir node       'I' || u8 level || u32 n || n × (name || u64 count || 32-byte hash)
//
// Nodes are stored with PutNode under BLAKE3 of their bytes. Decoding accepts only this
// canonical form (valid names in strictly increasing order, modes within 0o7777, no trailing
// bytes), so one tree has exactly one encoding.
//
// # Files
//
// Leaf i of a file holds bytes [i*leafSize, min(size, (i+1)*leafSize)). The leaves form a
// binary tree split as in RFC 6962: over n >= 2 leaves the left subtree covers the largest
// power of two below n, the right one the rest; a subtree over one leaf is the leaf hash
// itself, every larger one a 'T' node (stored, so updating one leaf of a 100 GiB file writes
// O(log n) small nodes). The file node's root is that tree's root, the single leaf hash when
// n == 1, and all zeros when size == 0. A file's Entry in its directory carries the same mode
// and size as its file node; a symlink's Entry has mode SymlinkMode and size len(target); a
// directory's Entry has size = its number of entries. The root directory has no Entry; Lookup
// reports it with mode RootMode.
//
// # Directories
//
// A directory's entries, sorted by name (byte order), form a history-independent chunked tree.
// Every name has a height: the number of whole 5-bit groups of trailing zero bits of
// BLAKE3('B' || name)[0:8] read as a little-endian uint64. Level-0 'D' chunks hold runs of
// entries, cut after every entry of height > 0; level-j 'I' nodes hold runs of level j-1 nodes
// as (first name, number of entries below, hash), cut after every child whose last entry has
// height > j. The lowest level with a single node is the top; its hash is the directory's
// hash. An empty directory is the chunk 'D' 00000000. The shape depends only on the set of
// entries, so the hash does too, and an insert, delete or update rewrites O(log n) nodes.
//
// # Keys
//
// Keys order all entries as a depth-first walk with children by name: the key of a path is
// each name followed by a 0x00 byte ("" for the root), and the key of leaf i of a file is the
// file's key, 0x00, and i as a u64. A directory's whole subtree is thus the contiguous interval
// of keys that start with its key, and a file's leaves follow its key directly.
//
// # Proofs
//
// Every node has a key span: a directory's top node covers its key and its whole subtree; a
// lower directory node with first name f covers from the key of f up to its next sibling's
// (or its parent's end); a file node covers the file's key and its leaves; a leaf-tree node
// covers the keys of its leaves. A range proof of [start, end] at a root is the walk, in key
// order, of every node whose span meets [start, proof_end] (node bytes in walk order) plus the
// data of every leaf in that range. The verifier runs the same walk over the proof: each node
// must hash to what its parent commits to (the first to the root), each leaf must hash to its
// leaf hash and have the length its file's size implies, entries must agree with their child
// nodes (kind, mode, size, entry count), and nothing may be left over. So the structure is
// authentic, no entry in range can be hidden (its node's span meets the range, so the walk
// demands it), and none can be added. A proof stops after maxEntries entries or about maxBytes
// bytes and then ends at its last key (proof_end), never mid-entry; it is complete when
// proof_end is the requested end. Each valid proof has exactly one encoding: the walk fixes
// it.
//
// A change proof from root1 to root2 is the range proof of root2 in which every node or leaf
// that root1 holds at the same position (same directory path and level and first name, or
// same file and leaf range) with the same hash is an empty reuse marker. The verifier checks
// each marker against its own copy of root1, so it must hold root1 over the range. If the
// prover no longer has root1 it sends a range proof at root2, flagged Fallback.
//
// A verified change proof also lists Deleted: the keys in its range that root1 has and root2
// lacks, found by comparing root1's nodes with the verified ones and skipping every directory
// node the two share at the same level.
//
// Proof wire format: see codec.go (magic, version, flags, end key, length-prefixed nodes and
// leaves; an empty element is a reuse marker). TestGoldenRoot also pins a proof's bytes.
//
// Syncer applies verified proofs to a store and tracks the key ranges still missing; as every
// node whose span meets a proven range is revealed, the store holds the whole target exactly
// when nothing remains. Proofs may come for any ranges in any order; Split cuts the remaining
// ranges at directory keys already held so a driver can fetch pieces in parallel. After
// SetTarget, ranges held at the old target keep it as their Base and may be fetched as change
// proofs from it; a change proof only covers ranges whose Base is its root1.
//
// # Golden vector
//
// With leaf size 4, the tree holding "state/" (0o755), "state/a.txt" = "hello world" (0o644),
// "state/ln" -> "a.txt" and "patch.cfg" = "{}" (0o600) has root
// c9b5c503c739fb9cf2f62e5ba06d4f2cd52d742190e48a37798a46a966cb785c; the empty root is
// 4d398686661677ad1b6235a6b3df1308633daf56d01bbf2c43bb95beaa0ef233 ("a.txt" has a height above
// 0, so "state" is two chunks under an 'I' node). TestGoldenRoot pins both, so any change to
// the layout fails loudly; TestGoldenRootFromDocumentedLayout recomputes the root from this
// description alone.
package merkle
