package statesync

import (
	"log/slog"
	"sync"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// ProgressSnapshot is the state of a sync at one instant, for logs, the node's status file and
// metrics.
type ProgressSnapshot struct {
	Target  merkle.Hash
	Started time.Time
	Elapsed time.Duration
	// Entries and Bytes count what was verified and applied: proven directories, files and
	// symlinks (change proofs add bytes only: the sink, not the client, verifies them) and leaf
	// data bytes.
	Entries uint64
	Bytes   uint64
	// ProofBytes counts proof bytes received and applied (leaf data plus nodes).
	ProofBytes uint64
	// TotalEntries and TotalBytes are the servers' unverified estimates of the target tree
	// (0: unknown yet).
	TotalEntries uint64
	TotalBytes   uint64
	// Percent is 0..100, from the estimates; 100 only when Done.
	Percent float64
	// Rate is leaf data bytes per second since Started; ETA is 0 when unknown.
	Rate float64
	ETA  time.Duration
	// InFlight requests, usable and dropped peers.
	InFlight     int
	Peers        int
	DroppedPeers int
	Done         bool
}

// progress accumulates a ProgressSnapshot; the Run goroutine writes, anyone reads.
type progress struct {
	mu sync.Mutex
	s  ProgressSnapshot
}

func (p *progress) reset(target merkle.Hash, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s = ProgressSnapshot{Target: target, Started: now}
}

func (p *progress) update(f func(s *ProgressSnapshot)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.s)
}

func (p *progress) snapshot(now time.Time) ProgressSnapshot {
	p.mu.Lock()
	s := p.s
	p.mu.Unlock()
	if s.Started.IsZero() {
		return s
	}
	s.Elapsed = now.Sub(s.Started)
	if secs := s.Elapsed.Seconds(); secs > 0 {
		s.Rate = float64(s.Bytes) / secs
	}
	const w = entryOverhead
	total := float64(s.TotalBytes) + w*float64(s.TotalEntries)
	switch {
	case s.Done:
		s.Percent = 100
	case total > 0:
		s.Percent = min(99.9, 100*(float64(s.Bytes)+w*float64(s.Entries))/total)
	}
	if !s.Done && s.Percent > 0 {
		s.ETA = time.Duration(float64(s.Elapsed) * (100 - s.Percent) / s.Percent).Round(time.Second)
	}
	return s
}

// logProgress writes the one periodic progress line.
func logProgress(log *slog.Logger, s ProgressSnapshot) {
	log.Info("statesync: progress", "target", hex8(s.Target), "percent", int(s.Percent*10)/10.0,
		"entries", s.Entries, "bytes", s.Bytes, "rate_mb_s", int(s.Rate/1e5)/10.0,
		"eta", s.ETA, "in_flight", s.InFlight, "peers", s.Peers, "dropped_peers", s.DroppedPeers)
}
