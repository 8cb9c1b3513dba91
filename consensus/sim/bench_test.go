package sim

import (
	"testing"
	"time"
)

// BenchmarkSim7Nodes runs a 7-node cluster with a steady input load over a lossless network with
// 1-8 ms delays and reports: simulated ledgers per wall-clock second (what a CI seed costs), and
// virtual milliseconds per ledger, next to HotPocket's fixed 1000 ms round (its default roundtime)
// as the baseline ratio.
func BenchmarkSim7Nodes(b *testing.B) {
	var ledgers uint64
	var virtual time.Duration
	var rounds int
	for i := 0; i < b.N; i++ {
		rep, err := Run(Options{Nodes: 7, Seed: uint64(i + 1), Inputs: 400, Ledgers: 40})
		if err != nil {
			b.Fatal(err)
		}
		ledgers += rep.MinLedger
		virtual += rep.Virtual
		rounds += rep.Rounds
	}
	msPerLedger := float64(virtual.Milliseconds()) / float64(ledgers)
	b.ReportMetric(float64(ledgers)/b.Elapsed().Seconds(), "ledgers/s")
	b.ReportMetric(float64(rounds)/7/b.Elapsed().Seconds(), "rounds/s")
	b.ReportMetric(msPerLedger, "virtual-ms/ledger")
	b.ReportMetric(1000/msPerLedger, "x-vs-hotpocket-1000ms-round")
}
