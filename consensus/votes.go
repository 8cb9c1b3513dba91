package consensus

import (
	"bytes"
	"sort"
)

// The vote-counting rules. Each is a pure function of the proposals stored for the current round,
// the node's held inputs and the closed chain, which is what the datadriven tests pin down.

// mergeValue is the stage-1 value: every input with a quorum of stage-0 votes among those this node
// holds and admits, every user with at least one vote (HotPocket's stage-1 rule for users), the
// lower median of the proposed times, the union of node nonces, and this node's execution result
// of the tip.
//
// HotPocket merges every input with at least one vote. While inputs keep arriving at one node,
// that node's stage-0 proposal always holds inputs the others have not received yet; when the
// round's leader merges them, the ledger closes with inputs most members lack, and each of them
// must fetch the whole ledger before it can vote on the next one. Requiring a quorum of stage-0
// votes orders only inputs that a quorum of members (so at least one honest one, and every honest
// proposer whose vote counted) already holds; the rest wait one ledger, and reach the quorum as
// the relay lands. An input held by fewer than a quorum is relayed again with the next ledger
// (startRound), so it cannot be left out for good.
func (n *Node) mergeValue(res Result) Value {
	set := n.props[key(n.round, StagePropose)]
	votes := map[OrderedHash]int{}
	var users []PubKey
	var times []uint64
	var nonces []Hash
	for _, vs := range set {
		v := vs[0]
		for _, oh := range v.p.Value.Inputs {
			votes[oh]++
		}
		users = append(users, v.p.Value.Users...)
		times = append(times, v.p.Value.Time)
		nonces = append(nonces, v.p.Value.Nonces...)
	}
	cands := make([]OrderedHash, 0, len(votes))
	for oh, c := range votes {
		if c >= n.q {
			cands = append(cands, oh)
		}
	}
	ins, inUsers := n.pool.pick(&n.cfg, cands, n.seq())
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return Value{
		Time:   n.clampTime(times[(len(times)-1)/2]),
		Users:  capUsers(inUsers, sortKeys(users)),
		Inputs: ins,
		Nonces: capNonces(sortHashes(nonces)),
		Result: res,
	}
}

// leader is the UNL member whose stage-1 value breaks ties in (seq, round): a rotation every node
// computes identically from the closed chain.
func (n *Node) leader(round uint32) PubKey {
	return n.conf.UNL[(n.seq()+uint64(round))%uint64(len(n.conf.UNL))]
}

// prevoteChoice is the stage-2 value of an unlocked node, chosen among the stage-1 values of this
// round that carry this node's own execution result: the round leader's value if it arrived, else
// the value with the most votes, ties to the member earliest in the leader rotation. HotPocket
// instead filters each field by a percentage of the stage-1 votes; over the different subsets that
// nodes advancing at a quorum see, such filters need not converge, while a whole-value choice with
// a common preference does as soon as the leader's stage-1 proposal reaches everyone.
func (n *Node) prevoteChoice(res Result) (Value, bool) {
	set := n.props[key(n.round, StageMerge)]
	ok := func(v vote) bool { return resultEqual(v.p.Value.Result, res) && v.p.Value.Time > n.tip.Value.Time }
	if vs, found := set[n.leader(n.round)]; found && ok(vs[0]) {
		return vs[0].p.Value.Clone(), true
	}
	counts := map[Hash]int{}
	for _, vs := range set {
		if ok(vs[0]) {
			counts[vs[0].vh]++
		}
	}
	size := uint64(len(n.conf.UNL))
	rank := func(k PubKey) uint64 {
		i := uint64(n.conf.index(k))
		return (i + size - (n.seq()+uint64(n.round))%size) % size
	}
	var best *vote
	for _, vs := range set {
		v := vs[0]
		c, found := counts[v.vh]
		if !found {
			continue
		}
		if best == nil || c > counts[best.vh] || (c == counts[best.vh] && rank(v.p.Signer) < rank(best.p.Signer)) {
			best = &v
		}
	}
	if best == nil {
		return Value{}, false
	}
	return best.p.Value.Clone(), true
}

func (n *Node) clampTime(t uint64) uint64 {
	if t <= n.tip.Value.Time {
		return n.tip.Value.Time + 1
	}
	return t
}

// pluralityResult is the execution result most stage-1 proposals of this round carry, if one result
// has strictly more votes than any other.
func (n *Node) pluralityResult() (Result, bool) {
	type tally struct {
		r Result
		c int
	}
	counts := map[Hash]*tally{}
	for _, vs := range n.props[key(n.round, StageMerge)] {
		v := vs[0]
		var e enc
		encodeResult(&e, &v.p.Value.Result)
		h := sum(e.b)
		if counts[h] == nil {
			counts[h] = &tally{r: v.p.Value.Result}
		}
		counts[h].c++
	}
	var best *tally
	tie := false
	for _, t := range counts {
		switch {
		case best == nil || t.c > best.c:
			best, tie = t, false
		case t.c == best.c:
			tie = true
		}
	}
	if best == nil || tie {
		return Result{}, false
	}
	return best.r, true
}

// capUsers merges the users of chosen inputs (always kept: the contract needs their channels) with
// other voted users, up to MaxUsers.
func capUsers(inUsers, others []PubKey) []PubKey {
	all := sortKeys(append(append([]PubKey(nil), inUsers...), others...))
	if len(all) <= MaxUsers {
		return all
	}
	keep := map[PubKey]bool{}
	for _, u := range inUsers {
		keep[u] = true
	}
	out := append([]PubKey(nil), inUsers...)
	for _, u := range all {
		if len(out) >= MaxUsers {
			break
		}
		if !keep[u] {
			out = append(out, u)
		}
	}
	return sortKeys(out)
}

func sortHashes(hs []Hash) []Hash {
	sort.Slice(hs, func(i, j int) bool { return bytes.Compare(hs[i][:], hs[j][:]) < 0 })
	out := hs[:0]
	for i, h := range hs {
		if i == 0 || hs[i-1] != h {
			out = append(out, h)
		}
	}
	return out
}

func capNonces(hs []Hash) []Hash {
	if len(hs) > MaxUNL {
		return hs[:MaxUNL]
	}
	return hs
}
