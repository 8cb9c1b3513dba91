package merkle

import "errors"

// Sentinel errors. They are wrapped with context; test with errors.Is.
var (
	// ErrNotFound: a node, leaf or path is absent.
	ErrNotFound = errors.New("merkle: not found")
	// ErrInvalidName: a name or path is not allowed in the tree.
	ErrInvalidName = errors.New("merkle: invalid name")
	// ErrNotDir: a path component that must be a directory is not one.
	ErrNotDir = errors.New("merkle: not a directory")
	// ErrIsDir: a file operation was applied to a directory.
	ErrIsDir = errors.New("merkle: is a directory")
	// ErrExists: the path already exists.
	ErrExists = errors.New("merkle: already exists")
	// ErrNotFile: a file operation was applied to something that is not a regular file.
	ErrNotFile = errors.New("merkle: not a regular file")
	// ErrInvalidArgument: a mode, size, leaf index or parameter is out of range.
	ErrInvalidArgument = errors.New("merkle: invalid argument")
	// ErrMissingLeafHash: WriteFile left a leaf that is neither in the base file nor in changed.
	ErrMissingLeafHash = errors.New("merkle: leaf hash neither in base nor in changed")

	// ErrCorrupt: stored or proven node bytes do not decode as a canonical node.
	ErrCorrupt = errors.New("merkle: malformed node")
	// ErrUnsorted: entries or children are not in strictly increasing name order, or a child's
	// first name differs from what its parent says.
	ErrUnsorted = errors.New("merkle: entries out of order")
	// ErrDuplicateName: a directory lists the same name twice.
	ErrDuplicateName = errors.New("merkle: duplicate name")

	// ErrMalformedProof: a proof's bytes do not decode (bad tag, bad length, trailing bytes).
	ErrMalformedProof = errors.New("merkle: malformed proof")
	// ErrBadRange: the requested or proven range is inverted or the proof's end lies outside it.
	ErrBadRange = errors.New("merkle: bad range")
	// ErrRootMismatch: the proof's first node does not hash to the claimed root.
	ErrRootMismatch = errors.New("merkle: root mismatch")
	// ErrNodeMismatch: a revealed node does not hash to the hash its parent commits to.
	ErrNodeMismatch = errors.New("merkle: node hash mismatch")
	// ErrMissingNode: the proof ends while a node whose key interval meets the range is needed.
	ErrMissingNode = errors.New("merkle: proof lacks a node in range")
	// ErrLeafMismatch: leaf data in a proof does not hash to its leaf hash or has the wrong length.
	ErrLeafMismatch = errors.New("merkle: leaf data mismatch")
	// ErrMissingLeaf: the proof ends while leaf data in range is needed.
	ErrMissingLeaf = errors.New("merkle: proof lacks leaf data in range")
	// ErrEntryMismatch: a directory entry's kind, mode or size differs from its child node's.
	ErrEntryMismatch = errors.New("merkle: entry disagrees with its node")
	// ErrExtraData: the proof carries nodes or leaves the range does not need.
	ErrExtraData = errors.New("merkle: proof has extra data")
	// ErrReuseMismatch: a change proof reuses a subtree that root1 does not have at that position.
	ErrReuseMismatch = errors.New("merkle: reused subtree differs from base")
	// ErrTargetMismatch: a verified proof given to a Syncer is for another root or base.
	ErrTargetMismatch = errors.New("merkle: proof is for another target")
)
