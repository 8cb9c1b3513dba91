package outtree

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/zeebo/blake3"
)

// Fanout is HotPocket's block size for the output hash tree (util/merkle_hash_tree.cpp):
// leaves are grouped in runs of 16 and each parent is the BLAKE3 of its children concatenated.
const Fanout = 16

// Of builds a round's tree from what the contract sent each user: users without
// outputs have no leaf (they get no contract_output).
func Of(users []UserOutputs, stateHash Hash) *Tree {
	hashes := make([]Hash, 0, len(users))
	for _, u := range users {
		if len(u.Outputs) > 0 {
			hashes = append(hashes, UserHash(u.User, u.Outputs))
		}
	}
	return New(hashes, stateHash)
}

// Tree is the hash tree of one round's outputs (reference §1.8). Its leaves are every user's
// UserHash in ascending byte order, then the post-execution state hash as the last leaf. The
// root is what every UNL node signs (OutputSigMessage) and votes on as the round's output hash.
//
// An Tree is immutable once built and safe for concurrent use.
type Tree struct {
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

// New builds the tree of one round from the users' output hashes (any order, no
// duplicates) and the post-execution state hash. With no user hashes there is no tree and the
// root is all zeros, as on HotPocket.
func New(userHashes []Hash, stateHash Hash) *Tree {
	if len(userHashes) == 0 {
		return &Tree{}
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
		next := make([]*treeNode, 0, (len(level)+Fanout-1)/Fanout)
		for i := 0; i < len(level); i += Fanout {
			group := level[i:min(i+Fanout, len(level))]
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
	return &Tree{root: level[0], leaves: leaves}
}

// Root is the hash the UNL signs; all zeros for a round without outputs.
func (t *Tree) Root() Hash {
	if t.root == nil {
		return Hash{}
	}
	return t.root.hash
}

// Leaves is the number of leaves, the state hash included; 0 for a round without outputs.
func (t *Tree) Leaves() int { return len(t.leaves) }

// Elem is one element of a collapsed hash tree as sent to a user: either a hash (a subtree
// that does not contain the user), the user's own leaf (Self, sent as null), or a list.
type Elem struct {
	Hash   Hash
	Self   bool
	List   []Elem
	IsList bool
}

// ErrNotInTree means the user's output hash is not a leaf of the round's tree.
var ErrNotInTree = errors.New("outtree: output hash is not in the round's output tree")

// Collapse returns the tree as the user whose output hash is self must see it: the path from the
// root to self's leaf as nested lists, every other subtree replaced by its hash, and self's leaf
// marked Self. The result is always a list, as the client folds it with for-of.
func (t *Tree) Collapse(self Hash) (Elem, error) {
	if t.root == nil {
		return Elem{}, ErrNotInTree
	}
	// The user leaves are sorted; the last leaf is the state hash, never a user's.
	users := t.leaves[:len(t.leaves)-1]
	idx, found := slices.BinarySearchFunc(users, self, func(x, h Hash) int { return bytes.Compare(x[:], h[:]) })
	if !found {
		return Elem{}, ErrNotInTree
	}
	return collapse(t.root, idx), nil
}

func collapse(n *treeNode, idx int) Elem {
	if len(n.children) == 0 {
		if n.lo == idx {
			return Elem{Self: true}
		}
		return Elem{Hash: n.hash}
	}
	if idx < n.lo || idx >= n.hi {
		return Elem{Hash: n.hash}
	}
	list := make([]Elem, len(n.children))
	for i, c := range n.children {
		list[i] = collapse(c, idx)
	}
	return Elem{List: list, IsList: true}
}

// Fold computes the root of a collapsed tree the way the client does (getMerkleHash): a list
// is the BLAKE3 of its elements' hashes concatenated, Self stands for self. It fails unless Self
// appears exactly once.
func Fold(t Elem, self Hash) (Hash, error) {
	if !t.IsList {
		return Hash{}, errors.New("outtree: hash tree is not a list")
	}
	found := 0
	root := fold(t, self, &found, 0)
	if found != 1 {
		return Hash{}, fmt.Errorf("outtree: hash tree has %d self leaves, want 1", found)
	}
	return root, nil
}

// maxTreeDepth bounds recursion on untrusted trees; a real tree of 2^64 leaves is 16 levels deep.
const maxTreeDepth = 64

func fold(t Elem, self Hash, found *int, depth int) Hash {
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
