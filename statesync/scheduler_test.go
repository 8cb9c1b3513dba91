package statesync

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

func pid(b byte) p2p.PeerID { var id p2p.PeerID; id[0] = b; return id }

var t0 = time.Unix(1_700_000_000, 0)

func newTestScheduler(cfg SchedulerConfig, peers ...p2p.PeerID) *Scheduler {
	s := NewScheduler(cfg, h(1))
	s.SetPeers(peers)
	return s
}

func TestSchedulerSplitsAtHintsAndResumesFromProofEnd(t *testing.T) {
	s := newTestScheduler(SchedulerConfig{MaxInFlight: 4, PerPeer: 4}, pid(1))
	fs := s.Next(t0)
	if len(fs) != 1 || fs[0].Req.Hints != 3 || fs[0].Req.End != nil || len(fs[0].Req.Start) != 0 {
		t.Fatalf("first fetches %+v, want one whole-space request asking 3 hints", fs)
	}
	s.Result(Result{ID: fs[0].ID, Outcome: OutcomeProof, End: merkle.Key("b\x00"),
		Hints: []merkle.Key{merkle.Key("a\x00"), merkle.Key("d\x00"), merkle.Key("d\x00"), merkle.Key("f"), merkle.Key("k\x00")}}, t0)
	got := s.Remaining()
	want := []merkle.KeyRange{
		{Start: merkle.Key("b\x00\x00"), End: merkle.Key("d")},
		{Start: merkle.Key("d\x00"), End: merkle.Key("k")},
		{Start: merkle.Key("k\x00")},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("remaining after a truncated proof with hints:\n got %v\nwant %v", got, want)
	}
	fs = s.Next(t0)
	if len(fs) != 3 {
		t.Fatalf("%d fetches, want one per chunk", len(fs))
	}
	for _, f := range fs {
		s.Result(Result{ID: f.ID, Outcome: OutcomeProof, Complete: true, End: f.Req.End}, t0)
	}
	if !s.Idle() {
		t.Fatalf("not idle after every chunk completed: %v", s.Remaining())
	}
}

func TestSchedulerRespectsWorkLimits(t *testing.T) {
	s := newTestScheduler(SchedulerConfig{MaxInFlight: 5, PerPeer: 2}, pid(1), pid(2))
	f := s.Next(t0)[0]
	var hints []merkle.Key
	for c := byte('b'); c < 'z'; c++ {
		hints = append(hints, merkle.Key{c, 0})
	}
	s.Result(Result{ID: f.ID, Outcome: OutcomeProof, End: merkle.Key("a\x00"), Hints: hints}, t0)
	fs := s.Next(t0)
	if len(fs) != 4 {
		t.Fatalf("%d fetches with 2 peers x 2 each, want 4", len(fs))
	}
	per := map[p2p.PeerID]int{}
	for _, f := range fs {
		per[f.Peer]++
	}
	if per[pid(1)] != 2 || per[pid(2)] != 2 {
		t.Fatalf("per-peer load %v, want 2 and 2", per)
	}
	s.SetPeers([]p2p.PeerID{pid(1), pid(2), pid(3)})
	if fs := s.Next(t0); len(fs) != 1 || fs[0].Peer != pid(3) {
		t.Fatalf("with a third peer: %+v, want exactly one more fetch (work limit 5) to it", fs)
	}
	if s.InFlight() != 5 {
		t.Fatalf("in flight %d, want 5", s.InFlight())
	}
}

func TestSchedulerDropsPeerOnBadProofAndAsksElsewhere(t *testing.T) {
	s := newTestScheduler(SchedulerConfig{}, pid(1), pid(2))
	f := s.Next(t0)[0]
	s.Result(Result{ID: f.ID, Outcome: OutcomeBadProof}, t0)
	if !s.Dropped(f.Peer) {
		t.Fatal("peer not dropped after a bad proof")
	}
	for range 5 {
		fs := s.Next(t0.Add(time.Hour))
		if len(fs) != 1 || fs[0].Peer == f.Peer {
			t.Fatalf("fetches %+v: the range must go to the other peer", fs)
		}
		s.Result(Result{ID: fs[0].ID, Outcome: OutcomeFailed}, t0)
	}
	if u, d := s.PeerCounts(); u != 1 || d != 1 {
		t.Fatalf("usable %d dropped %d, want 1 and 1", u, d)
	}
}

func TestSchedulerBacksOffFailedPeerExponentially(t *testing.T) {
	s := newTestScheduler(SchedulerConfig{BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond}, pid(1))
	now := t0
	for i, want := range []time.Duration{20, 40, 80, 100, 100} {
		fs := s.Next(now)
		if len(fs) != 1 {
			t.Fatalf("round %d: %d fetches, want 1", i, len(fs))
		}
		s.Result(Result{ID: fs[0].ID, Outcome: OutcomeFailed}, now)
		if fs := s.Next(now.Add(want*time.Millisecond - time.Millisecond)); len(fs) != 0 {
			t.Fatalf("round %d: peer asked again before its %dms backoff", i, want)
		}
		now = now.Add(want * time.Millisecond)
	}
	fs := s.Next(now)
	s.Result(Result{ID: fs[0].ID, Outcome: OutcomeProof, End: merkle.Key("a\x00")}, now)
	if fs := s.Next(now); len(fs) != 1 {
		t.Fatal("a success must clear the backoff")
	}
}

func TestSchedulerSkipsNackingPeerUntilRetryOrNewTarget(t *testing.T) {
	s := newTestScheduler(SchedulerConfig{NackRetry: time.Second}, pid(1))
	f := s.Next(t0)[0]
	s.Result(Result{ID: f.ID, Outcome: OutcomeNack}, t0)
	s.Tick(t0.Add(500 * time.Millisecond))
	if fs := s.Next(t0.Add(500 * time.Millisecond)); len(fs) != 0 {
		t.Fatal("a peer that NACKed the target was asked again before NackRetry")
	}
	s.Tick(t0.Add(time.Second))
	if fs := s.Next(t0.Add(time.Second)); len(fs) != 1 {
		t.Fatal("NACK not lifted after NackRetry")
	}
	s2 := newTestScheduler(SchedulerConfig{NackRetry: time.Hour}, pid(1))
	f = s2.Next(t0)[0]
	s2.Result(Result{ID: f.ID, Outcome: OutcomeNack}, t0)
	s2.SetTarget(h(2))
	if fs := s2.Next(t0); len(fs) != 1 || fs[0].Req.Root != h(2) {
		t.Fatalf("after a new target the peer must be asked for it: %+v", fs)
	}
}

func TestSchedulerSetTargetRequestsChangeProofsForHeldRanges(t *testing.T) {
	s := newTestScheduler(SchedulerConfig{MaxInFlight: 1}, pid(1))
	f := s.Next(t0)[0]
	s.Result(Result{ID: f.ID, Outcome: OutcomeProof, End: merkle.Key("m\x00")}, t0)
	stale := s.Next(t0)[0]
	s.SetTarget(h(2))
	s.Result(Result{ID: stale.ID, Outcome: OutcomeProof, End: merkle.Key("z\x00")}, t0) // stale: ignored
	want := []merkle.KeyRange{{Start: merkle.Key{}, End: merkle.Key("m\x00"), Base: h(1)}, {Start: merkle.Key("m\x00\x00")}}
	if got := s.Remaining(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("remaining after retarget:\n got %v\nwant %v", got, want)
	}
	fs := s.Next(t0)
	if len(fs) != 1 || fs[0].Req.Kind != ProofChange || fs[0].Req.Base != h(1) || fs[0].Req.Root != h(2) {
		t.Fatalf("first fetch after retarget %+v, want a change proof from the old root", fs)
	}
}

// TestSchedulerTracksTheSameRangesAsMerkleSyncer drives a Scheduler and a merkle.Syncer with the
// same random proofs, failures and retargets; what each says remains must be the same key set.
func TestSchedulerTracksTheSameRangesAsMerkleSyncer(t *testing.T) {
	keys := []merkle.Key{}
	for _, a := range "abcdefgh" {
		keys = append(keys, merkle.Key{byte(a), 0})
		for _, b := range "xyz" {
			keys = append(keys, merkle.Key{byte(a), 0, byte(b), 0})
		}
	}
	slices.SortFunc(keys, func(a, b merkle.Key) int { return bytes.Compare(a, b) })
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 7))
		target := h(1)
		s := NewScheduler(SchedulerConfig{MaxInFlight: 1 + r.IntN(5), PerPeer: 3}, target)
		s.SetPeers([]p2p.PeerID{pid(1), pid(2)})
		sy := merkle.NewSyncer(merkle.NewMemStore(), target, merkle.DefaultParams())
		inflight := map[uint64]Fetch{}
		for step := 0; step < 400 && !s.Idle(); step++ {
			for _, f := range s.Next(t0) {
				inflight[f.ID] = f
			}
			if r.IntN(25) == 0 {
				target = h(byte(2 + step))
				s.SetTarget(target)
				sy.SetTarget(target)
			}
			ids := slices.Sorted(func(yield func(uint64) bool) {
				for id := range inflight {
					if !yield(id) {
						return
					}
				}
			})
			if len(ids) == 0 {
				continue
			}
			f := inflight[ids[r.IntN(len(ids))]]
			delete(inflight, f.ID)
			if f.Req.Root != target {
				s.Result(Result{ID: f.ID, Outcome: OutcomeStale}, t0)
				continue
			}
			if r.IntN(5) == 0 {
				s.Result(Result{ID: f.ID, Outcome: OutcomeBusy}, t0.Add(-time.Hour))
				continue
			}
			// A proof stops at a random key of the range, or completes it.
			var in []merkle.Key
			for _, k := range keys {
				if bytes.Compare(k, f.Req.Start) >= 0 && (f.Req.End == nil || bytes.Compare(k, f.Req.End) < 0) {
					in = append(in, k)
				}
			}
			res := Result{ID: f.ID, Outcome: OutcomeProof, End: f.Req.End, Complete: true}
			if len(in) > 0 && r.IntN(2) == 0 {
				res.End, res.Complete = in[r.IntN(len(in))], false
				for range r.IntN(4) {
					res.Hints = append(res.Hints, keys[r.IntN(len(keys))])
				}
				slices.SortFunc(res.Hints, func(a, b merkle.Key) int { return bytes.Compare(a, b) })
			}
			if err := sy.Apply(&merkle.Verified{Root: target, Start: f.Req.Start, End: res.End, Base: f.Req.Base}); err != nil {
				t.Fatal(err)
			}
			s.Result(res, t0)
		}
		if got, want := normalize(s.Remaining()), normalize(sy.Remaining()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: scheduler remaining\n%v\nsyncer remaining\n%v", seed, got, want)
		}
	}
}

// normalize merges adjacent ranges with the same base (a split at k leaves [.., prev(k)] and
// [k, ..], which cover the same keys as one range).
func normalize(rs []merkle.KeyRange) []merkle.KeyRange {
	var out []merkle.KeyRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].Base == r.Base && out[n-1].End != nil &&
			(bytes.Equal(keyNext(out[n-1].End), r.Start) || bytes.Equal(keyPrev(r.Start), out[n-1].End)) {
			out[n-1].End = r.End
			continue
		}
		out = append(out, r)
	}
	return out
}

// TestSchedulerFirstFetchAsksASmallProof: the first fetch, which runs alone until its hints
// come back, asks for a small proof; later ones, even alone on an unsplittable range, ask for
// the configured size.
func TestSchedulerFirstFetchAsksASmallProof(t *testing.T) {
	s := newTestScheduler(SchedulerConfig{MaxInFlight: 4, PerPeer: 4, MaxBytes: 4 << 20}, pid(1))
	fs := s.Next(t0)
	if len(fs) != 1 || fs[0].Req.MaxBytes != scoutProofBytes || fs[0].Req.Hints == 0 {
		t.Fatalf("first fetches %+v, want one asking hints with a %d-byte proof", fs, scoutProofBytes)
	}
	s.Result(Result{ID: fs[0].ID, Outcome: OutcomeProof, End: merkle.Key("a\x00")}, t0)
	fs = s.Next(t0)
	if len(fs) != 1 || fs[0].Req.MaxBytes != 4<<20 {
		t.Fatalf("second fetch %+v, want the configured proof size", fs)
	}
}
