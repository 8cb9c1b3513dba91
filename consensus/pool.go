package consensus

import (
	"bytes"
	"sort"
)

// nonceEntry is the last input of a user that went into a ledger. Until its MaxLedgerSeq passes, a
// new input of that user must carry a larger nonce (HotPocket's input_nonce_map, minus its bug of
// comparing ledger numbers with milliseconds: entries here expire by ledger sequence).
type nonceEntry struct {
	nonce  uint64
	maxSeq uint64
	sig    [64]byte
}

type pooled struct {
	in    Input
	local bool
	since uint64 // the tip when the input was admitted
}

// pool holds admitted inputs that are not yet in a ledger. Its rules depend only on the closed
// chain, so every honest node with the same chain applies the same rules.
type pool struct {
	byHash map[OrderedHash]*pooled
	bytes  map[PubKey]int
	nonces map[PubKey]nonceEntry
}

func newPool() pool {
	return pool{byHash: map[OrderedHash]*pooled{}, bytes: map[PubKey]int{}, nonces: map[PubKey]nonceEntry{}}
}

// maxPoolInputs bounds memory held for inputs that are not yet in a ledger.
const maxPoolInputs = 1 << 18

// admit applies HotPocket's submission checks against the closed ledger tip.
//
// An exact copy of a held input (same user, nonce, container and signature) is answered first,
// without checking its signature again: the held copy was checked on admission. Inputs are relayed
// again on round retries and new ledgers, so a burst would otherwise cost every peer one Ed25519
// verification per input per resend, on the loop that also carries the proposals.
func (p *pool) admit(cfg *Config, in *Input, local bool, tip uint64) (Reason, bool) {
	oh := in.Ordered()
	if e, ok := p.byHash[oh]; ok && e.in.User == in.User && e.in.Sig == in.Sig && e.in.MaxLedgerSeq == in.MaxLedgerSeq &&
		e.in.Protocol == in.Protocol && bytes.Equal(e.in.Container, in.Container) {
		e.local = e.local || local
		return ReasonAlreadySubmitted, false
	}
	if !(local && cfg.SubmitVerified) {
		if err := cfg.VerifyInput(in); err != nil {
			return ReasonBadSig, false
		}
	}
	if limit := maxLedgerLimit(cfg, local, tip); limit != 0 && in.MaxLedgerSeq > limit {
		return ReasonMaxLedgerOffsetExceeds, false
	}
	if in.MaxLedgerSeq <= tip {
		return ReasonMaxLedgerExpired, false
	}
	if e, ok := p.nonces[in.User]; ok && e.maxSeq > tip && in.Nonce <= e.nonce {
		if e.sig == in.Sig {
			return ReasonAlreadySubmitted, false
		}
		return ReasonNonceExpired, false
	}
	if _, ok := p.byHash[oh]; ok {
		// A different input under a held one's ordered hash (same nonce and signature): the
		// held one stays, and this one can never be ordered.
		return ReasonAlreadySubmitted, false
	}
	if len(p.byHash) >= maxPoolInputs || len(in.Container) > MaxInputBytes {
		// An input larger than the wire allows would make the batch carrying it undecodable.
		return ReasonRoundInputsOverflow, false
	}
	if cfg.UserInputBytes != 0 && uint64(p.bytes[in.User]+len(in.Container)) > cfg.UserInputBytes {
		return ReasonRoundInputsOverflow, false
	}
	cp := *in
	cp.Container = append([]byte(nil), in.Container...)
	p.byHash[oh] = &pooled{in: cp, local: local, since: tip}
	p.bytes[in.User] += len(in.Container)
	return "", true
}

// maxLedgerLimit is the largest MaxLedgerSeq admission accepts at tip, 0 for no limit.
//
// A user's input is checked against MaxInputLedgerOffset where it was submitted, at that node's
// tip; its client sets MaxLedgerSeq to that tip plus an offset (hotpocket-js-client: 10, the
// default limit itself). A peer one ledger behind the submitting node then sees it one ledger too
// far ahead. Refusing it there loses it for that peer until the resend two ledgers later, and the
// user's next input, relayed after that peer caught up, is ordered first: the earlier one ends
// nonce_expired although its user did nothing wrong. So a relayed input may reach another offset
// further: peers up to MaxInputLedgerOffset ledgers ahead are covered, and an input reaching
// further than any honest submission could is still refused.
func maxLedgerLimit(cfg *Config, local bool, tip uint64) uint64 {
	if cfg.MaxInputLedgerOffset == 0 {
		return 0
	}
	if local {
		return tip + cfg.MaxInputLedgerOffset
	}
	return tip + 2*cfg.MaxInputLedgerOffset
}

// pick filters candidate ordered hashes to the inputs this node holds and that are admissible in
// ledger seq, in ordered-hash order: not expired, nonces strictly increasing per user beyond the
// user's last ledgered nonce, and at most UserInputBytes per user. It is a pure function of the
// candidates, the held inputs and the closed chain.
func (p *pool) pick(cfg *Config, cands []OrderedHash, seq uint64) ([]OrderedHash, []PubKey) {
	sort.Slice(cands, func(i, j int) bool { return bytes.Compare(cands[i][:], cands[j][:]) < 0 })
	total := 0
	type userState struct {
		last  uint64
		has   bool
		in    bool
		bytes uint64
	}
	st := map[PubKey]*userState{}
	var out []OrderedHash
	var users []PubKey
	for i, oh := range cands {
		if i > 0 && cands[i-1] == oh {
			continue
		}
		e, ok := p.byHash[oh]
		if !ok || e.in.MaxLedgerSeq < seq {
			continue
		}
		u := st[e.in.User]
		if u == nil {
			u = &userState{}
			if ne, ok := p.nonces[e.in.User]; ok && ne.maxSeq >= seq {
				u.last, u.has = ne.nonce, true
			}
			st[e.in.User] = u
		}
		if u.has && e.in.Nonce <= u.last {
			continue
		}
		if cfg.UserInputBytes != 0 && u.bytes+uint64(len(e.in.Container)) > cfg.UserInputBytes {
			continue
		}
		if total+len(e.in.Container) > MaxLedgerInputBytes {
			continue
		}
		total += len(e.in.Container)
		if !u.in {
			u.in = true
			users = append(users, e.in.User)
		}
		u.last, u.has = e.in.Nonce, true
		u.bytes += uint64(len(e.in.Container))
		out = append(out, oh)
		if len(out) == MaxInputs {
			break
		}
	}
	return out, sortKeys(users)
}

// all returns every held ordered hash.
func (p *pool) all() []OrderedHash {
	out := make([]OrderedHash, 0, len(p.byHash))
	for oh := range p.byHash {
		out = append(out, oh)
	}
	return out
}

// get returns the held inputs for a value's ordered hashes, or false if any is missing.
func (p *pool) get(ohs []OrderedHash) ([]Input, bool) {
	out := make([]Input, 0, len(ohs))
	for _, oh := range ohs {
		e, ok := p.byHash[oh]
		if !ok {
			return nil, false
		}
		out = append(out, e.in)
	}
	return out, true
}

// commit removes the inputs of closed ledger seq from the pool, records nonces, and returns the
// statuses owed to local users: accepted for ours in the ledger, rejected for pooled inputs that
// can no longer get in (expired, or overtaken by a larger nonce of the same user).
func (p *pool) commit(seq uint64, hash Hash, ins []Input) []InputStatus {
	var sts []InputStatus
	for i := range ins {
		in := &ins[i]
		p.nonces[in.User] = nonceEntry{nonce: in.Nonce, maxSeq: in.MaxLedgerSeq, sig: in.Sig}
		oh := in.Ordered()
		if e, ok := p.byHash[oh]; ok {
			if e.local {
				sts = append(sts, InputStatus{User: in.User, Hash: in.Hash(), Accepted: true, LedgerSeq: seq, LedgerHash: hash})
			}
			p.remove(oh, e)
		}
	}
	for oh, e := range p.byHash {
		var r Reason
		if e.in.MaxLedgerSeq <= seq {
			r = ReasonMaxLedgerExpired
		} else if ne, ok := p.nonces[e.in.User]; ok && ne.maxSeq > seq && e.in.Nonce <= ne.nonce {
			r = ReasonNonceExpired
		} else {
			continue
		}
		if e.local {
			sts = append(sts, InputStatus{User: e.in.User, Hash: e.in.Hash(), Reason: r})
		}
		p.remove(oh, e)
	}
	for u, ne := range p.nonces {
		if ne.maxSeq <= seq {
			delete(p.nonces, u)
		}
	}
	sort.Slice(sts, func(i, j int) bool { return bytes.Compare(sts[i].Hash[:], sts[j].Hash[:]) < 0 })
	return sts
}

func (p *pool) remove(oh OrderedHash, e *pooled) {
	delete(p.byHash, oh)
	if p.bytes[e.in.User] -= len(e.in.Container); p.bytes[e.in.User] <= 0 {
		delete(p.bytes, e.in.User)
	}
}

func sortKeys(ks []PubKey) []PubKey {
	sort.Slice(ks, func(i, j int) bool { return bytes.Compare(ks[i][:], ks[j][:]) < 0 })
	out := ks[:0]
	for i, k := range ks {
		if i == 0 || ks[i-1] != k {
			out = append(out, k)
		}
	}
	return out
}
