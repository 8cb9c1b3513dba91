package p2p

import (
	"sync"
	"time"
)

// Metrics receives the mesh's counters. Implementations must be safe for
// concurrent use and must not block: they are called on the I/O paths.
// A Prometheus adapter belongs to the node package, which owns the registry.
type Metrics interface {
	// MessageIn is called for every message received (bytes = frame size).
	MessageIn(peer PeerID, kind Kind, bytes int)
	// MessageOut is called for every message handed to QUIC.
	MessageOut(peer PeerID, kind Kind, bytes int)
	// Dropped is called for every message dropped; reason is a short stable
	// word ("bad", "non-unl", "queue-full", "no-handler").
	Dropped(peer PeerID, kind Kind, reason string)
	// RTT is called with each measured application round-trip time.
	RTT(peer PeerID, d time.Duration)
}

// NopMetrics discards everything.
type NopMetrics struct{}

// MessageIn implements Metrics.
func (NopMetrics) MessageIn(PeerID, Kind, int) {}

// MessageOut implements Metrics.
func (NopMetrics) MessageOut(PeerID, Kind, int) {}

// Dropped implements Metrics.
func (NopMetrics) Dropped(PeerID, Kind, string) {}

// RTT implements Metrics.
func (NopMetrics) RTT(PeerID, time.Duration) {}

// Counter is one cell of CounterMetrics.
type Counter struct {
	Messages, Bytes int64
}

// CounterKey indexes CounterMetrics.
type CounterKey struct {
	Peer PeerID
	Kind Kind
}

// CounterMetrics keeps every counter in memory: enough for tests, a status
// endpoint, or to feed an exporter by polling Snapshot.
type CounterMetrics struct {
	mu      sync.Mutex
	in, out map[CounterKey]Counter
	drops   map[string]int64
	rtt     map[PeerID]time.Duration
}

// NewCounterMetrics returns empty counters.
func NewCounterMetrics() *CounterMetrics {
	return &CounterMetrics{
		in: map[CounterKey]Counter{}, out: map[CounterKey]Counter{},
		drops: map[string]int64{}, rtt: map[PeerID]time.Duration{},
	}
}

// MessageIn implements Metrics.
func (m *CounterMetrics) MessageIn(p PeerID, k Kind, n int) {
	m.mu.Lock()
	c := m.in[CounterKey{p, k}]
	c.Messages++
	c.Bytes += int64(n)
	m.in[CounterKey{p, k}] = c
	m.mu.Unlock()
}

// MessageOut implements Metrics.
func (m *CounterMetrics) MessageOut(p PeerID, k Kind, n int) {
	m.mu.Lock()
	c := m.out[CounterKey{p, k}]
	c.Messages++
	c.Bytes += int64(n)
	m.out[CounterKey{p, k}] = c
	m.mu.Unlock()
}

// Dropped implements Metrics.
func (m *CounterMetrics) Dropped(_ PeerID, _ Kind, reason string) {
	m.mu.Lock()
	m.drops[reason]++
	m.mu.Unlock()
}

// RTT implements Metrics.
func (m *CounterMetrics) RTT(p PeerID, d time.Duration) {
	m.mu.Lock()
	m.rtt[p] = d
	m.mu.Unlock()
}

// In returns the inbound counter for a peer and kind.
func (m *CounterMetrics) In(p PeerID, k Kind) Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.in[CounterKey{p, k}]
}

// Out returns the outbound counter for a peer and kind.
func (m *CounterMetrics) Out(p PeerID, k Kind) Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out[CounterKey{p, k}]
}

// Drops returns how many messages were dropped for reason.
func (m *CounterMetrics) Drops(reason string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.drops[reason]
}

// LastRTT returns the last round-trip time measured to p (0 if none).
func (m *CounterMetrics) LastRTT(p PeerID) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rtt[p]
}
