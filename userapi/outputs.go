package userapi

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"github.com/zeebo/blake3"
)

// OutputTreeFanout is HotPocket's block size for the output hash tree (util/merkle_hash_tree.cpp):
// leaves are grouped in runs of 16 and each parent is the BLAKE3 of its children concatenated.
const OutputTreeFanout = 16

// UserOutputHash is what a user's outputs of one round commit to, exactly as the client recomputes
// it: BLAKE3(KeyPrefix ‖ user ‖ out_1 ‖ out_2 ‖ …), outputs in the order the contract emitted them.
func UserOutputHash(user ed25519.PublicKey, outputs [][]byte) Hash {
	h := blake3.New()
	h.Write([]byte{KeyPrefix})
	h.Write(user)
	for _, o := range outputs {
		h.Write(o)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// InputHash is an input's hash as HotPocket and the client compute it: BLAKE3 of its signature.
// Statuses are matched by it and ledgers record it.
func InputHash(sig []byte) Hash { return Hash(blake3.Sum256(sig)) }

// OutputTreeOf builds a round's tree from what the contract sent each user: users without
// outputs have no leaf (they get no contract_output).
func OutputTreeOf(users []UserOutputs, stateHash Hash) *OutputTree {
	hashes := make([]Hash, 0, len(users))
	for _, u := range users {
		if len(u.Outputs) > 0 {
			hashes = append(hashes, UserOutputHash(u.User, u.Outputs))
		}
	}
	return NewOutputTree(hashes, stateHash)
}

// OutputTree is the hash tree of one round's outputs (reference §1.8). Its leaves are every user's
// UserOutputHash in ascending byte order, then the post-execution state hash as the last leaf. The
// root is what every UNL node signs (OutputSigMessage) and votes on as the round's output hash.
//
// An OutputTree is immutable once built and safe for concurrent use.
type OutputTree struct {
	root   *treeNode // nil when the round had no outputs
	leaves []Hash    // sorted user hashes, then the state hash
}

// treeNode covers the leaves [lo, hi). A leaf has no children; a group of one child is never
// built: HotPocket collapses it to the child, and the client's fold would hash it again.
type treeNode struct {
	hash     Hash
	lo, hi   int
	children []*treeNode
}

// NewOutputTree builds the tree of one round from the users' output hashes (any order, no
// duplicates) and the post-execution state hash. With no user hashes there is no tree and the
// root is all zeros, as on HotPocket.
func NewOutputTree(userHashes []Hash, stateHash Hash) *OutputTree {
	if len(userHashes) == 0 {
		return &OutputTree{}
	}
	leaves := make([]Hash, 0, len(userHashes)+1)
	leaves = append(leaves, userHashes...)
	slices.SortFunc(leaves, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	leaves = append(leaves, stateHash)

	level := make([]*treeNode, len(leaves))
	for i, h := range leaves {
		level[i] = &treeNode{hash: h, lo: i, hi: i + 1}
	}
	for len(level) > 1 {
		next := make([]*treeNode, 0, (len(level)+OutputTreeFanout-1)/OutputTreeFanout)
		for i := 0; i < len(level); i += OutputTreeFanout {
			group := level[i:min(i+OutputTreeFanout, len(level))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			h := blake3.New()
			for _, c := range group {
				h.Write(c.hash[:])
			}
			n := &treeNode{lo: group[0].lo, hi: group[len(group)-1].hi, children: group}
			h.Sum(n.hash[:0])
			next = append(next, n)
		}
		level = next
	}
	return &OutputTree{root: level[0], leaves: leaves}
}

// Root is the hash the UNL signs; all zeros for a round without outputs.
func (t *OutputTree) Root() Hash {
	if t.root == nil {
		return Hash{}
	}
	return t.root.hash
}

// Leaves is the number of leaves, the state hash included; 0 for a round without outputs.
func (t *OutputTree) Leaves() int { return len(t.leaves) }

// TreeElem is one element of a collapsed hash tree as sent to a user: either a hash (a subtree
// that does not contain the user), the user's own leaf (Self, sent as null), or a list.
type TreeElem struct {
	Hash   Hash
	Self   bool
	List   []TreeElem
	IsList bool
}

// ErrNotInTree means the user's output hash is not a leaf of the round's tree.
var ErrNotInTree = errors.New("userapi: output hash is not in the round's output tree")

// Collapse returns the tree as the user whose output hash is self must see it: the path from the
// root to self's leaf as nested lists, every other subtree replaced by its hash, and self's leaf
// marked Self. The result is always a list, as the client folds it with for-of.
func (t *OutputTree) Collapse(self Hash) (TreeElem, error) {
	if t.root == nil {
		return TreeElem{}, ErrNotInTree
	}
	// The user leaves are sorted; the last leaf is the state hash, never a user's.
	users := t.leaves[:len(t.leaves)-1]
	idx, found := slices.BinarySearchFunc(users, self, func(x, h Hash) int { return bytes.Compare(x[:], h[:]) })
	if !found {
		return TreeElem{}, ErrNotInTree
	}
	return collapse(t.root, idx), nil
}

func collapse(n *treeNode, idx int) TreeElem {
	if len(n.children) == 0 {
		if n.lo == idx {
			return TreeElem{Self: true}
		}
		return TreeElem{Hash: n.hash}
	}
	if idx < n.lo || idx >= n.hi {
		return TreeElem{Hash: n.hash}
	}
	list := make([]TreeElem, len(n.children))
	for i, c := range n.children {
		list[i] = collapse(c, idx)
	}
	return TreeElem{List: list, IsList: true}
}

// FoldTree computes the root of a collapsed tree the way the client does (getMerkleHash): a list
// is the BLAKE3 of its elements' hashes concatenated, Self stands for self. It fails unless Self
// appears exactly once.
func FoldTree(t TreeElem, self Hash) (Hash, error) {
	if !t.IsList {
		return Hash{}, errors.New("userapi: hash tree is not a list")
	}
	found := 0
	root := fold(t, self, &found, 0)
	if found != 1 {
		return Hash{}, fmt.Errorf("userapi: hash tree has %d self leaves, want 1", found)
	}
	return root, nil
}

// maxTreeDepth bounds recursion on untrusted trees; a real tree of 2^64 leaves is 16 levels deep.
const maxTreeDepth = 64

func fold(t TreeElem, self Hash, found *int, depth int) Hash {
	if depth > maxTreeDepth {
		*found = -1 << 30
		return Hash{}
	}
	h := blake3.New()
	for _, e := range t.List {
		var eh Hash
		switch {
		case e.IsList:
			eh = fold(e, self, found, depth+1)
		case e.Self:
			*found++
			eh = self
		default:
			eh = e.Hash
		}
		h.Write(eh[:])
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// OutputSigMessage is the exact message a UNL node signs for a round's outputs: the raw 32-byte
// root, because that is what the client verifies (crypto_sign_verify_detached(sig, root, key)).
// It cannot carry a domain tag; every other signature in hpnode must therefore sign a message that
// is never exactly 32 bytes, so an output signature and any other can never be confused.
func OutputSigMessage(root Hash) []byte { return append([]byte(nil), root[:]...) }

// SignOutputRoot is this node's unl_sig entry for a round whose output tree root is root.
func SignOutputRoot(priv ed25519.PrivateKey, root Hash) OutputSig {
	return OutputSig{Signer: priv.Public().(ed25519.PublicKey), Sig: ed25519.Sign(priv, OutputSigMessage(root))}
}

// OutputSig is one UNL node's signature over a round's output root.
type OutputSig struct {
	Signer ed25519.PublicKey
	Sig    []byte
}

// OutputTrustThreshold is the client's outputValidationPassThreshold: the share of the trusted
// UNL whose valid signatures an output needs.
const OutputTrustThreshold = 0.8

// VerifyOutputTrust repeats the client's verifyContractOutputTrust in Go: the output hash of user's
// outputs must equal outputHash, the collapsed tree must fold (with outputHash as self) to a root,
// and distinct trusted signers with valid signatures over that root must be at least 80% of
// trusted. It returns the root on success.
func VerifyOutputTrust(user ed25519.PublicKey, outputs [][]byte, outputHash Hash, tree TreeElem, sigs []OutputSig, trusted []ed25519.PublicKey) (Hash, error) {
	if got := UserOutputHash(user, outputs); got != outputHash {
		return Hash{}, fmt.Errorf("userapi: output hash %s, outputs hash to %s", outputHash, got)
	}
	root, err := FoldTree(tree, outputHash)
	if err != nil {
		return Hash{}, err
	}
	if len(trusted) == 0 {
		return Hash{}, errors.New("userapi: no trusted keys")
	}
	isTrusted := make(map[string]bool, len(trusted))
	for _, k := range trusted {
		isTrusted[string(k)] = true
	}
	passed := make(map[string]bool)
	for _, s := range sigs {
		k := string(s.Signer)
		if passed[k] || !isTrusted[k] || len(s.Signer) != ed25519.PublicKeySize {
			continue
		}
		if ed25519.Verify(s.Signer, root[:], s.Sig) {
			passed[k] = true
		}
	}
	if float64(len(passed))/float64(len(isTrusted)) < OutputTrustThreshold {
		return Hash{}, fmt.Errorf("userapi: %d of %d trusted keys signed the output root", len(passed), len(isTrusted))
	}
	return root, nil
}
