package p2p

import (
	"crypto/ed25519"
	"sync/atomic"
)

// Verifier checks a payload of a kind this package does not own and returns
// the key that signed it. A message whose verifier fails, or whose signer is
// not in the current UNL, is dropped at the boundary and counted as bad.
type Verifier func(payload []byte) (signer ed25519.PublicKey, err error)

// unlSet is an immutable set of keys; the node swaps the whole set when
// consensus changes the UNL, so readers never lock.
type unlSet map[PeerID]struct{}

type unl struct{ p atomic.Pointer[unlSet] }

func (u *unl) set(keys []ed25519.PublicKey) {
	s := make(unlSet, len(keys))
	for _, k := range keys {
		if id, err := PeerIDFromKey(k); err == nil {
			s[id] = struct{}{}
		}
	}
	u.p.Store(&s)
}

func (u *unl) has(id PeerID) bool {
	s := u.p.Load()
	if s == nil {
		return false
	}
	_, ok := (*s)[id]
	return ok
}
