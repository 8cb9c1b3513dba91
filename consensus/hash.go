package consensus

import (
	"github.com/zeebo/blake3"
)

// Domain tags. Every hash and signature this package defines starts with its own tag, so bytes
// hashed or signed for one purpose can never be replayed as another. The one exception is the
// output signature, which HotPocket's client requires to be over the raw 32-byte output root; no
// tagged message is 32 bytes long, so it cannot collide with any of these.
const (
	tagValue      = "hpnode/value/v1"
	tagLedger     = "hpnode/ledger/v1"
	tagGroupNonce = "hpnode/group-nonce/v1"
	tagConfig     = "hpnode/unl/v1"
	// TagProposal prefixes every signed proposal; see SignedBytes.
	TagProposal = "hpnode/proposal/v1"
)

func sum(parts ...[]byte) Hash {
	h := blake3.New()
	for _, p := range parts {
		_, _ = h.Write(p) // blake3's Write never fails
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// InputHashOf is the user-visible input hash: blake3 of the user's signature, as HotPocket's client
// computes it to match status replies.
func InputHashOf(sig []byte) Hash { return sum(sig) }

// UserHash is blake3 over the concatenated sorted user keys, or 32 zero bytes for none (HotPocket's
// get_list_hash).
func UserHash(users []PubKey) Hash {
	if len(users) == 0 {
		return Hash{}
	}
	b := make([]byte, 0, 32*len(users))
	for _, u := range users {
		b = append(b, u[:]...)
	}
	return sum(b)
}

// InputListHash is blake3 over the 32-byte input hashes in ordered-hash order, or zero for none.
func InputListHash(inputs []OrderedHash) Hash {
	if len(inputs) == 0 {
		return Hash{}
	}
	b := make([]byte, 0, 32*len(inputs))
	for _, in := range inputs {
		b = append(b, in[8:]...)
	}
	return sum(b)
}

func groupNonce(nonces []Hash) Hash {
	b := make([]byte, 0, len(tagGroupNonce)+32*len(nonces))
	b = append(b, tagGroupNonce...)
	for _, n := range nonces {
		b = append(b, n[:]...)
	}
	return sum(b)
}

// ConfigHash is the canonical hash of a UNL configuration.
func ConfigHash(c UNLConfig) Hash {
	e := enc{b: []byte(tagConfig)}
	encodeConfig(&e, c)
	return sum(e.b)
}

// Hash is the canonical hash of the value, which stage proposals sign.
func (v *Value) Hash() Hash {
	e := enc{b: make([]byte, 0, len(tagValue)+128+40*len(v.Inputs)+32*len(v.Users))}
	e.raw([]byte(tagValue))
	encodeValue(&e, v)
	return sum(e.b)
}

// LedgerHash is the canonical ledger hash:
//
//	blake3("hpnode/ledger/v1" ‖ u64 seq ‖ u64 time ‖ state_hash ‖ patch_hash ‖ user_hash ‖
//	       input_hash ‖ output_hash ‖ group_nonce ‖ config_hash ‖ u64 result_seq ‖ prev_hash)
//
// with integers big-endian, user_hash = UserHash, input_hash = InputListHash and config_hash =
// ConfigHash(v.Result.Config). It covers only agreed content, never signatures or the round that
// closed it, so every honest node computes the same hash for the same ledger.
func LedgerHash(seq uint64, prev Hash, v *Value) Hash {
	var e enc
	e.b = make([]byte, 0, 512)
	e.raw([]byte(tagLedger))
	e.u64(seq)
	e.u64(v.Time)
	e.hash(v.Result.StateHash)
	e.hash(v.Result.PatchHash)
	e.hash(UserHash(v.Users))
	e.hash(InputListHash(v.Inputs))
	e.hash(v.Result.OutputHash)
	e.hash(v.GroupNonce())
	e.hash(ConfigHash(v.Result.Config))
	e.u64(v.Result.Seq)
	e.hash(prev)
	return sum(e.b)
}
