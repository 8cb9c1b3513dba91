package consensus

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
)

// Hash is a 32-byte BLAKE3 digest (or an Ed25519 public key, which has the same size).
type Hash [32]byte

// String returns the first 8 bytes in hex, the form logs use.
func (h Hash) String() string { return hex.EncodeToString(h[:8]) }

// IsZero reports whether h is all zero bytes.
func (h Hash) IsZero() bool { return h == Hash{} }

// PubKey is a raw 32-byte Ed25519 public key (without HotPocket's 0xED prefix).
type PubKey [32]byte

// String returns the key in hex.
func (k PubKey) String() string { return hex.EncodeToString(k[:]) }

// Ed25519 returns the key as a standard library public key.
func (k PubKey) Ed25519() ed25519.PublicKey { return ed25519.PublicKey(k[:]) }

// OrderedHash is HotPocket's 40-byte input key: the 8-byte big-endian nonce followed by
// blake3(user signature). Sorting by it fixes the order in which inputs reach the contract.
type OrderedHash [40]byte

// InputHash returns the 32-byte hash part (blake3 of the user's signature), which users see.
func (o OrderedHash) InputHash() Hash {
	var h Hash
	copy(h[:], o[8:])
	return h
}

// Result is what executing one ledger produced, as the caller reports it: the hashes every node votes
// on and the configuration patch.cfg holds after the run.
type Result struct {
	// Seq is the ledger whose execution produced this result.
	Seq uint64
	// StateHash is the Merkle root of the contract state after the run.
	StateHash Hash
	// PatchHash is the hash of patch.cfg after the run.
	PatchHash Hash
	// OutputHash is the root of HotPocket's output tree (package outtree) over the users' output hashes and
	// StateHash, zero when there were no outputs.
	OutputHash Hash
	// Config is the consensus configuration patch.cfg holds after the run (UNL and threshold).
	Config UNLConfig
}

// UNLConfig is the part of patch.cfg consensus depends on. A ledger records the UNLConfig that
// governs the next ledger, which is how UNL changes take effect at an agreed sequence (an epoch).
type UNLConfig struct {
	// UNL is the sorted, duplicate-free list of voting node keys.
	UNL []PubKey
	// Threshold is the percentage (51..100) of the UNL whose stage-3 votes close a ledger.
	Threshold uint8
}

// Contains reports whether k is a UNL member.
func (c UNLConfig) Contains(k PubKey) bool { return c.index(k) >= 0 }

func (c UNLConfig) index(k PubKey) int {
	lo, hi := 0, len(c.UNL)
	for lo < hi {
		m := (lo + hi) / 2
		switch bytes.Compare(c.UNL[m][:], k[:]) {
		case 0:
			return m
		case -1:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}

// Equal reports whether two configurations are identical.
func (c UNLConfig) Equal(o UNLConfig) bool {
	if c.Threshold != o.Threshold || len(c.UNL) != len(o.UNL) {
		return false
	}
	for i := range c.UNL {
		if c.UNL[i] != o.UNL[i] {
			return false
		}
	}
	return true
}

// Clone returns a deep copy.
func (c UNLConfig) Clone() UNLConfig {
	return UNLConfig{UNL: append([]PubKey(nil), c.UNL...), Threshold: c.Threshold}
}

// Value is what the UNL agrees on for one ledger: the content every stage proposal carries. A
// stage-3 proposal carries exactly the value that is then recorded in the ledger.
type Value struct {
	// Time is the ledger time in Unix milliseconds (strictly greater than the previous ledger's).
	Time uint64
	// Users is the sorted set of user keys the contract runs for.
	Users []PubKey
	// Inputs is the sorted set of ordered input hashes.
	Inputs []OrderedHash
	// Nonces is the sorted set of node nonces; GroupNonce hashes them.
	Nonces []Hash
	// Result is the execution result of the previous ledger (seq-1).
	Result Result
}

// GroupNonce is the nonce the contract sees for the ledger: blake3 over the agreed node nonces.
// Every honest node closing the ledger has the same value, so it computes the same group nonce.
func (v *Value) GroupNonce() Hash { return groupNonce(v.Nonces) }

// Clone returns a deep copy of v.
func (v *Value) Clone() Value {
	c := *v
	c.Users = append([]PubKey(nil), v.Users...)
	c.Inputs = append([]OrderedHash(nil), v.Inputs...)
	c.Nonces = append([]Hash(nil), v.Nonces...)
	c.Result.Config = v.Result.Config.Clone()
	return c
}
