package consensus

import (
	"bytes"
	"sort"
)

// UserOutputs is what the contract emitted for one user in one execution, in emission order.
type UserOutputs struct {
	User    PubKey
	Outputs [][]byte
}

// UserOutputHash is HotPocket's per-user output hash, blake3(0xED ‖ user key ‖ out_1 ‖ out_2 ‖ …),
// the value hotpocket-js-client recomputes from a contract_output message (reference §1.8, §3.5).
func UserOutputHash(user PubKey, outs [][]byte) Hash {
	b := make([]byte, 0, 33+64)
	b = append(b, 0xED)
	b = append(b, user[:]...)
	for _, o := range outs {
		b = append(b, o...)
	}
	return sum(b)
}

// outputTreeBlock is HotPocket's merkle_hash_tree block size.
const outputTreeBlock = 16

// HashTree is a node of the collapsed output tree a user receives (contract_output.hash_tree):
// either a hash (a subtree without the user's leaf), the user's own leaf (Self, sent as null), or an
// array of children, which the client folds as blake3(concatenation of the children's hashes).
type HashTree struct {
	Self     bool
	Hash     Hash
	Children []HashTree
}

// Fold recomputes the root the way hotpocket-js-client does, with own standing for the Self leaf.
func (t *HashTree) Fold(own Hash) Hash {
	switch {
	case t.Self:
		return own
	case t.Children == nil:
		return t.Hash
	}
	b := make([]byte, 0, 32*len(t.Children))
	for i := range t.Children {
		h := t.Children[i].Fold(own)
		b = append(b, h[:]...)
	}
	return sum(b)
}

// outputLeaves returns the leaves in HotPocket's order: the output hashes of the users that have
// outputs, in ascending byte order, then the state hash.
func outputLeaves(outs []UserOutputs, state Hash) ([]Hash, []PubKey) {
	type leaf struct {
		h Hash
		u PubKey
	}
	var ls []leaf
	for _, uo := range outs {
		if len(uo.Outputs) > 0 {
			ls = append(ls, leaf{UserOutputHash(uo.User, uo.Outputs), uo.User})
		}
	}
	if len(ls) == 0 {
		return nil, nil
	}
	sort.Slice(ls, func(i, j int) bool { return bytes.Compare(ls[i].h[:], ls[j].h[:]) < 0 })
	hs := make([]Hash, 0, len(ls)+1)
	us := make([]PubKey, 0, len(ls))
	for _, l := range ls {
		hs = append(hs, l.h)
		us = append(us, l.u)
	}
	return append(hs, state), us
}

// buildTree folds leaves in groups of 16, a group of one collapsing to its child, until one node
// remains. The user's leaf (index self, or -1) is marked; every subtree without it is collapsed to
// its hash.
func buildTree(leaves []Hash, self int) (HashTree, Hash) {
	type node struct {
		t   HashTree
		h   Hash
		has bool
	}
	level := make([]node, len(leaves))
	for i, h := range leaves {
		level[i] = node{t: HashTree{Hash: h, Self: i == self}, h: h, has: i == self}
	}
	for len(level) > 1 {
		var next []node
		for i := 0; i < len(level); i += outputTreeBlock {
			grp := level[i:min(i+outputTreeBlock, len(level))]
			if len(grp) == 1 {
				next = append(next, grp[0])
				continue
			}
			b := make([]byte, 0, 32*len(grp))
			nd := node{}
			for _, c := range grp {
				b = append(b, c.h[:]...)
				nd.has = nd.has || c.has
			}
			nd.h = sum(b)
			if nd.has {
				for _, c := range grp {
					ct := c.t
					if !c.has {
						ct = HashTree{Hash: c.h}
					}
					nd.t.Children = append(nd.t.Children, ct)
				}
			} else {
				nd.t = HashTree{Hash: nd.h}
			}
			next = append(next, nd)
		}
		level = next
	}
	return level[0].t, level[0].h
}

// OutputRoot is the output hash a node votes on after an execution: the root of the tree over the
// users' output hashes and the post-execution state hash, or zero when no user got an output.
func OutputRoot(outs []UserOutputs, state Hash) Hash {
	leaves, _ := outputLeaves(outs, state)
	if len(leaves) == 0 {
		return Hash{}
	}
	_, root := buildTree(leaves, -1)
	return root
}

// OutputTreeFor returns the collapsed tree for one user (contract_output.hash_tree) and the root, or
// false when that user has no outputs. With the ledger's UNLSigs over the root it is everything the
// client needs to verify its outputs.
func OutputTreeFor(outs []UserOutputs, state Hash, user PubKey) (HashTree, Hash, bool) {
	leaves, users := outputLeaves(outs, state)
	self := -1
	for i, u := range users {
		if u == user {
			self = i
		}
	}
	if self < 0 {
		return HashTree{}, Hash{}, false
	}
	t, root := buildTree(leaves, self)
	return t, root, true
}
