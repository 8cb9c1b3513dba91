package statesync

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

// SchedulerConfig is the fetch policy. Zero fields take the defaults.
type SchedulerConfig struct {
	// MaxInFlight is the work limit: requests outstanding across all peers (default 12).
	MaxInFlight int
	// PerPeer caps requests outstanding at one peer (default 4).
	PerPeer int
	// MaxEntries and MaxBytes limit each requested proof (defaults 50,000 and 4 MiB).
	MaxEntries uint32
	MaxBytes   uint32
	// BackoffMin and BackoffMax bound the exponential backoff of a peer after a failed or
	// busy request (defaults 50ms and 5s).
	BackoffMin, BackoffMax time.Duration
	// NackRetry is how long a peer that said it lacks the target is left alone; it may have
	// caught up by then (default 1s).
	NackRetry time.Duration
}

func (c SchedulerConfig) withDefaults() SchedulerConfig {
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 12
	}
	if c.PerPeer <= 0 {
		c.PerPeer = 4
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 50_000
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 4 << 20
	}
	c.MaxBytes = min(c.MaxBytes, MaxProofBytes/2)
	if c.BackoffMin <= 0 {
		c.BackoffMin = 50 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Second
	}
	if c.NackRetry <= 0 {
		c.NackRetry = time.Second
	}
	return c
}

// scoutProofBytes limits the proof of a fetch that runs alone while the work limit wants more
// chunks: it is asked for the hints to split on, and a full proof would delay them (a 1 GiB
// sync's first answer took 120 ms at 4 MiB, with every other slot idle meanwhile).
const scoutProofBytes = 256 << 10

// Fetch is one request the scheduler wants sent.
type Fetch struct {
	ID   uint64
	Peer p2p.PeerID
	Req  Request
}

// Outcome classifies what became of a Fetch.
type Outcome uint8

// Outcomes.
const (
	// OutcomeProof: a proof was verified and applied.
	OutcomeProof Outcome = iota + 1
	// OutcomeNack: the peer said it lacks the root.
	OutcomeNack
	// OutcomeBusy: the peer was at its proof limit.
	OutcomeBusy
	// OutcomeFailed: transport error, timeout, or a server error; the peer backs off.
	OutcomeFailed
	// OutcomeBadProof: the peer sent something that failed verification or decoding, or an
	// oversized response; it is dropped for the rest of the sync.
	OutcomeBadProof
	// OutcomeStale: the answer was for a target that is no longer current; not the peer's fault.
	OutcomeStale
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case OutcomeProof:
		return "proof"
	case OutcomeNack:
		return "nack"
	case OutcomeBusy:
		return "busy"
	case OutcomeFailed:
		return "failed"
	case OutcomeBadProof:
		return "bad-proof"
	case OutcomeStale:
		return "stale"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Result reports a Fetch back to the scheduler.
type Result struct {
	ID      uint64
	Outcome Outcome
	// End and Complete (OutcomeProof): where the proof stopped (nil: end of key space) and
	// whether it covered the whole requested range.
	End      merkle.Key
	Complete bool
	// Hints (OutcomeProof): the server's split keys for the rest of the range.
	Hints []merkle.Key
}

// chunk is a key range still to fetch for the target. Chunks are disjoint and kept in key order.
type chunk struct {
	start, end merkle.Key // end nil: end of key space
	base       merkle.Hash
	fetch      uint64 // in-flight fetch, 0 when idle
	avoid      []p2p.PeerID
}

type peerState struct {
	inflight int
	failures int
	until    time.Time // backed off until
	nacked   merkle.Hash
	dropped  bool
	present  bool // in the latest SetPeers
}

type fetchState struct {
	peer  p2p.PeerID
	chunk *chunk // nil once stale
}

// Scheduler decides which key ranges to fetch from which peers. It is a pure state machine in
// the style of etcd raft: the caller feeds it peers, results and the clock, and performs the
// Fetches it returns. It never does I/O and is not safe for concurrent use.
//
// Invariant: the chunks plus the ranges the sink holds for the target cover the key space; a
// chunk shrinks only on a verified, applied proof for the current target.
type Scheduler struct {
	cfg     SchedulerConfig
	target  merkle.Hash
	chunks  []*chunk
	fetches map[uint64]*fetchState
	peers   map[p2p.PeerID]*peerState
	nextID  uint64
	// wantTotals makes the next fetch ask for at least one hint: hints come with the server's
	// size estimate of the tree, which progress needs even when the work limit needs no split.
	wantTotals bool
	// scout: no fetch has asked for hints yet (see scoutProofBytes).
	scout bool
}

// NewScheduler returns a scheduler for target with the whole key space to fetch.
func NewScheduler(cfg SchedulerConfig, target merkle.Hash) *Scheduler {
	return &Scheduler{
		cfg:     cfg.withDefaults(),
		target:  target,
		chunks:  []*chunk{{start: merkle.Key{}}},
		fetches: map[uint64]*fetchState{},
		peers:   map[p2p.PeerID]*peerState{},

		wantTotals: true,
		scout:      true,
	}
}

// Target returns the root being fetched.
func (s *Scheduler) Target() merkle.Hash { return s.target }

// Idle reports that nothing remains to fetch and nothing is in flight.
func (s *Scheduler) Idle() bool { return len(s.chunks) == 0 && len(s.fetches) == 0 }

// InFlight returns the number of outstanding fetches.
func (s *Scheduler) InFlight() int { return len(s.fetches) }

// Remaining returns the ranges still to fetch, in key order.
func (s *Scheduler) Remaining() []merkle.KeyRange {
	out := make([]merkle.KeyRange, len(s.chunks))
	for i, c := range s.chunks {
		out[i] = merkle.KeyRange{Start: c.start, End: c.end, Base: c.base}
	}
	return out
}

// SetPeers replaces the set of connected peers. Peers that left keep their penalties in case
// they come back; their in-flight fetches end through Result as usual.
func (s *Scheduler) SetPeers(ids []p2p.PeerID) {
	for _, p := range s.peers {
		p.present = false
	}
	for _, id := range ids {
		p := s.peers[id]
		if p == nil {
			p = &peerState{}
			s.peers[id] = p
		}
		p.present = true
	}
}

// PeerCounts returns how many known peers are usable and how many were dropped for bad proofs.
func (s *Scheduler) PeerCounts() (usable, dropped int) {
	for _, p := range s.peers {
		switch {
		case p.dropped:
			dropped++
		case p.present:
			usable++
		}
	}
	return usable, dropped
}

// Dropped reports whether id was dropped for sending a bad proof.
func (s *Scheduler) Dropped(id p2p.PeerID) bool { p := s.peers[id]; return p != nil && p.dropped }

// SetTarget moves the sync to a newer root. Every range not in a chunk (held by the sink at
// the old target) becomes a chunk with Base = the old target, to be fetched as a change
// proof; in-flight fetches become stale. This mirrors merkle.Syncer.SetTarget.
func (s *Scheduler) SetTarget(root merkle.Hash) {
	if root == s.target {
		return
	}
	old := s.target
	for _, f := range s.fetches {
		f.chunk = nil
	}
	for _, p := range s.peers {
		if p.nacked == old {
			p.nacked, p.until = merkle.Hash{}, time.Time{}
		}
	}
	var out []*chunk
	cur := merkle.Key{}
	for _, c := range s.chunks {
		c.fetch, c.avoid = 0, nil
		if bytes.Compare(cur, c.start) < 0 {
			out = append(out, &chunk{start: cur, end: keyPrev(c.start), base: old})
		}
		out = append(out, c)
		cur = nil
		if c.end != nil {
			cur = keyNext(c.end)
		}
	}
	if cur != nil {
		out = append(out, &chunk{start: cur, base: old})
	}
	s.target, s.chunks, s.wantTotals = root, out, true
}

// Reset replaces the remaining ranges (e.g. with what the sink reports it still misses) and
// forgets in-flight fetches.
func (s *Scheduler) Reset(remaining []merkle.KeyRange) {
	for _, f := range s.fetches {
		f.chunk = nil
	}
	s.chunks = s.chunks[:0]
	for _, r := range remaining {
		start := r.Start
		if start == nil {
			start = merkle.Key{}
		}
		s.chunks = append(s.chunks, &chunk{start: start, end: r.End, base: r.Base})
	}
}

// Next returns the fetches to start now: idle chunks in key order, each to the least-loaded
// usable peer it has not failed with, within the work limits.
func (s *Scheduler) Next(now time.Time) []Fetch {
	var out []Fetch
	for _, c := range s.chunks {
		if len(s.fetches) >= s.cfg.MaxInFlight {
			break
		}
		if c.fetch != 0 {
			continue
		}
		id, ok := s.pickPeer(c, now)
		if !ok {
			break
		}
		s.nextID++
		c.fetch = s.nextID
		s.fetches[s.nextID] = &fetchState{peer: id, chunk: c}
		s.peers[id].inflight++
		req := Request{Kind: ProofRange, Root: s.target, Start: c.start, End: c.end,
			MaxEntries: s.cfg.MaxEntries, MaxBytes: s.cfg.MaxBytes}
		if !c.base.IsZero() {
			req.Kind, req.Base = ProofChange, c.base
		}
		// Ask for split points while there are fewer chunks than the work limit allows.
		if spare := s.cfg.MaxInFlight - len(s.chunks); spare > 0 {
			req.Hints = uint8(min(spare, MaxHints))
			if s.scout && len(s.fetches) == 1 {
				// The sync's first fetch runs alone: until its answer brings the hints,
				// every other peer and slot waits. A small proof brings them back in a
				// fraction of a full proof's time. Only the first: a range that hints
				// cannot split (one big file) must not be fetched in small proofs.
				req.MaxBytes = min(req.MaxBytes, scoutProofBytes)
			}
			s.scout = false
		}
		if s.wantTotals {
			req.Hints, s.wantTotals = max(req.Hints, 1), false
		}
		out = append(out, Fetch{ID: s.nextID, Peer: id, Req: req})
	}
	return out
}

func (s *Scheduler) usable(p *peerState, now time.Time) bool {
	return p.present && !p.dropped && p.inflight < s.cfg.PerPeer && !now.Before(p.until) &&
		(p.nacked != s.target)
}

func (s *Scheduler) pickPeer(c *chunk, now time.Time) (p2p.PeerID, bool) {
	var best p2p.PeerID
	var bestP *peerState
	bestAvoided := true
	for id, p := range s.peers {
		if !s.usable(p, now) {
			continue
		}
		avoided := slices.Contains(c.avoid, id)
		better := bestP == nil ||
			(bestAvoided && !avoided) ||
			(avoided == bestAvoided && (p.inflight < bestP.inflight || (p.inflight == bestP.inflight && id.Less(best))))
		if better {
			best, bestP, bestAvoided = id, p, avoided
		}
	}
	return best, bestP != nil
}

// Result records the outcome of a fetch at time now.
func (s *Scheduler) Result(r Result, now time.Time) {
	f := s.fetches[r.ID]
	if f == nil {
		return
	}
	delete(s.fetches, r.ID)
	p := s.peers[f.peer]
	p.inflight--
	c := f.chunk
	if c != nil {
		c.fetch = 0
	}
	switch r.Outcome {
	case OutcomeProof:
		p.failures, p.until = 0, time.Time{}
		if c != nil {
			s.advance(c, r)
		}
		return
	case OutcomeStale:
		return
	case OutcomeNack:
		p.nacked = s.target
		p.until = now.Add(s.cfg.NackRetry)
	case OutcomeBusy:
		p.until = now.Add(s.cfg.BackoffMin)
	case OutcomeFailed:
		p.failures++
		p.until = now.Add(min(s.cfg.BackoffMin<<min(p.failures, 16), s.cfg.BackoffMax))
	case OutcomeBadProof:
		p.dropped = true
	}
	if c != nil && !slices.Contains(c.avoid, f.peer) {
		c.avoid = append(c.avoid, f.peer)
	}
}

// Tick lifts NACK marks whose retry time has come: a NACK is about a root the peer may have
// caught up to since, not about the peer.
func (s *Scheduler) Tick(now time.Time) {
	for _, p := range s.peers {
		if !p.nacked.IsZero() && !now.Before(p.until) {
			p.nacked = merkle.Hash{}
		}
	}
}

// advance shrinks c after a proof of [c.start, r.End] and splits the rest at the hints.
func (s *Scheduler) advance(c *chunk, r Result) {
	i := slices.Index(s.chunks, c)
	if i < 0 {
		return
	}
	if r.Complete || r.End == nil || (c.end != nil && bytes.Compare(r.End, c.end) >= 0) {
		s.chunks = slices.Delete(s.chunks, i, i+1)
		return
	}
	c.start, c.avoid = keyNext(r.End), nil
	parts := []*chunk{c}
	for _, h := range r.Hints {
		last := parts[len(parts)-1]
		// A usable hint ends a key (so keyPrev is exact), lies strictly inside the last part,
		// and leaves a non-empty part before it.
		if len(h) == 0 || h[len(h)-1] != 0 || bytes.Compare(h, last.start) <= 0 ||
			(last.end != nil && bytes.Compare(h, last.end) > 0) || bytes.Compare(last.start, keyPrev(h)) > 0 {
			continue
		}
		next := &chunk{start: h, end: last.end, base: last.base}
		last.end = keyPrev(h)
		parts = append(parts, next)
	}
	s.chunks = slices.Insert(slices.Delete(s.chunks, i, i+1), i, parts...)
}

// keyNext is the key right after k in the order, k||0x00, as merkle's Syncer computes it.
func keyNext(k merkle.Key) merkle.Key { return append(append(merkle.Key{}, k...), 0) }

// keyPrev is the largest key below k when k ends in 0x00, else k itself (which keeps one held
// key remaining rather than losing any), exactly as merkle's Syncer computes it.
func keyPrev(k merkle.Key) merkle.Key {
	if len(k) > 0 && k[len(k)-1] == 0 {
		return append(merkle.Key{}, k[:len(k)-1]...)
	}
	return append(merkle.Key{}, k...)
}
