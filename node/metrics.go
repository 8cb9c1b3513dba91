package node

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hpfs/hpnode/p2p"
)

// nodeMetrics are the node's Prometheus metrics, in a registry of its own (no package-level
// state: several nodes may run in one process). Served on hp.cfg metrics.listen at /metrics, with
// Go's profiler at /debug/pprof/.
type nodeMetrics struct {
	reg *prometheus.Registry

	ledgerSeq    prometheus.Gauge
	voteStatus   prometheus.Gauge
	inputs       prometheus.Counter
	executions   prometheus.Counter
	execSeconds  prometheus.Histogram
	syncBytes    prometheus.Gauge
	syncEntries  prometheus.Gauge
	syncPercent  prometheus.Gauge
	peerMsgs     *prometheus.CounterVec
	peerBytes    *prometheus.CounterVec
	peerDropped  *prometheus.CounterVec
	peerRTT      prometheus.Histogram
	connectedNow prometheus.GaugeFunc
	lanesNow     prometheus.GaugeFunc
}

// newNodeMetrics registers the node's metrics; peers lists the connected peers at each scrape.
func newNodeMetrics(peers func() []p2p.PeerInfo) *nodeMetrics {
	m := &nodeMetrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.ledgerSeq = prometheus.NewGauge(prometheus.GaugeOpts{Name: "hpnode_ledger_seq", Help: "Last closed ledger sequence."})
	m.voteStatus = prometheus.NewGauge(prometheus.GaugeOpts{Name: "hpnode_vote_status", Help: "Vote status: 0 unknown, 1 unreliable, 2 desync, 3 synced."})
	m.inputs = prometheus.NewCounter(prometheus.CounterOpts{Name: "hpnode_ledger_inputs_total", Help: "User inputs in closed ledgers."})
	m.executions = prometheus.NewCounter(prometheus.CounterOpts{Name: "hpnode_executions_total", Help: "Contract executions."})
	m.execSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hpnode_execution_seconds", Help: "Contract execution time, session begin to commit.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	m.syncBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "hpnode_statesync_bytes", Help: "Bytes of the state sync in flight."})
	m.syncEntries = prometheus.NewGauge(prometheus.GaugeOpts{Name: "hpnode_statesync_entries", Help: "Entries of the state sync in flight."})
	m.syncPercent = prometheus.NewGauge(prometheus.GaugeOpts{Name: "hpnode_statesync_percent", Help: "Progress of the state sync in flight (0..100)."})
	m.peerMsgs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hpnode_peer_messages_total", Help: "Peer messages by direction and kind."}, []string{"dir", "kind"})
	m.peerBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hpnode_peer_bytes_total", Help: "Peer message bytes by direction and kind."}, []string{"dir", "kind"})
	m.peerDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hpnode_peer_dropped_total", Help: "Peer messages dropped, by kind and reason."}, []string{"kind", "reason"})
	m.peerRTT = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hpnode_peer_rtt_seconds", Help: "Peer round-trip times.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})
	m.connectedNow = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hpnode_peers_connected", Help: "Connected peers."}, func() float64 { return float64(len(peers())) })
	m.lanesNow = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hpnode_peer_lanes", Help: "Open request lanes (TLS over TCP) to and from peers."}, func() float64 {
		n := 0
		for _, p := range peers() {
			n += p.Lanes
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.ledgerSeq, m.voteStatus, m.inputs, m.executions, m.execSeconds,
		m.syncBytes, m.syncEntries, m.syncPercent, m.peerMsgs, m.peerBytes, m.peerDropped, m.peerRTT, m.connectedNow, m.lanesNow,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// The p2p.Metrics hooks: per kind, not per peer, so the series count stays bounded.
var _ p2p.Metrics = (*nodeMetrics)(nil)

func (m *nodeMetrics) MessageIn(_ p2p.PeerID, k p2p.Kind, bytes int) {
	kind := strconv.Itoa(int(k))
	m.peerMsgs.WithLabelValues("in", kind).Inc()
	m.peerBytes.WithLabelValues("in", kind).Add(float64(bytes))
}

func (m *nodeMetrics) MessageOut(_ p2p.PeerID, k p2p.Kind, bytes int) {
	kind := strconv.Itoa(int(k))
	m.peerMsgs.WithLabelValues("out", kind).Inc()
	m.peerBytes.WithLabelValues("out", kind).Add(float64(bytes))
}

func (m *nodeMetrics) Dropped(_ p2p.PeerID, k p2p.Kind, reason string) {
	m.peerDropped.WithLabelValues(strconv.Itoa(int(k)), reason).Inc()
}

func (m *nodeMetrics) RTT(_ p2p.PeerID, d time.Duration) { m.peerRTT.Observe(d.Seconds()) }

func (m *nodeMetrics) setProgress(p *syncProgress) {
	if p == nil {
		m.syncBytes.Set(0)
		m.syncEntries.Set(0)
		m.syncPercent.Set(0)
		return
	}
	m.syncBytes.Set(float64(p.bytes))
	m.syncEntries.Set(float64(p.entries))
	m.syncPercent.Set(p.percent)
}

// serve runs the metrics endpoint on addr until ctx ends.
func (m *nodeMetrics) serve(ctx context.Context, addr string) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
