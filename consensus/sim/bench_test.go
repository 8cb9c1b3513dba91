package sim

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkSim7Nodes runs a 7-node cluster with a steady input load over a lossless network with
// 1-8 ms delays. It reports what a CI seed costs (simulated ledgers and rounds per wall-clock
// second) and what the protocol costs in virtual time: milliseconds per ledger, next to HotPocket's
// fixed 1000 ms round (its default roundtime), and the median submit-to-accepted latency, next to
// HotPocket's measured 3.5 s median at that roundtime (DESIGN §10).
func BenchmarkSim7Nodes(b *testing.B) {
	var ledgers uint64
	var virtual time.Duration
	var rounds int
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		rep, err := Run(Options{Nodes: 7, Seed: uint64(i + 1), Inputs: 400, Ledgers: 40})
		if err != nil {
			b.Fatal(err)
		}
		ledgers += rep.MinLedger
		virtual += rep.Virtual
		rounds += rep.Rounds
		lat = append(lat, rep.AcceptLatency...)
	}
	slices.Sort(lat)
	msPerLedger := float64(virtual.Milliseconds()) / float64(ledgers)
	median := float64(lat[len(lat)/2].Microseconds()) / 1000
	b.ReportMetric(float64(ledgers)/b.Elapsed().Seconds(), "ledgers/s")
	b.ReportMetric(float64(rounds)/7/b.Elapsed().Seconds(), "rounds/s")
	b.ReportMetric(msPerLedger, "virtual-ms/ledger")
	b.ReportMetric(1000/msPerLedger, "x-vs-hotpocket-round")
	b.ReportMetric(median, "virtual-ms-submit-to-accepted")
	b.ReportMetric(3500/median, "x-vs-hotpocket-accept")
}
