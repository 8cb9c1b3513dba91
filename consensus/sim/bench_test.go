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

// BenchmarkSimInputStream streams 20,000 inputs per virtual second for one second into one node of
// a 3-node cluster (FIFO links, 1-8 ms delays, a contract taking 20 µs per input) and reports
// accepted inputs per virtual second (from the first submission to the last accepted status),
// next to issue 8's target of 5,000 and HotPocket's measured ~300-1,100; rounds entered per
// ledger per node (1 when every ledger closes in its first round); the highest round any ledger
// needed; ledger fetches per ledger (a member that closed a ledger ordering inputs it lacks must
// fetch it before it can propose the next one); and the median submit-to-accepted latency, next
// to the 100 ms target.
func BenchmarkSimInputStream(b *testing.B) {
	var accepted, ledgers, rounds, fetches int
	var span time.Duration
	var maxRound uint32
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		o := Options{Nodes: 3, Seed: uint64(i + 1), StreamRate: 20000, StreamFor: time.Second, ExecPerInput: 20 * time.Microsecond}
		rep, err := Run(o)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Accepted != 20000 {
			b.Fatalf("%d of 20000 inputs accepted", rep.Accepted)
		}
		accepted += rep.Accepted
		span += rep.LastAccept
		ledgers += int(rep.MinLedger)
		rounds += rep.Rounds
		fetches += rep.LedgerRequests
		maxRound = max(maxRound, rep.MaxRound)
		lat = append(lat, rep.AcceptLatency...)
	}
	slices.Sort(lat)
	rate := float64(accepted) / span.Seconds()
	b.ReportMetric(rate, "accepted/virtual-s")
	b.ReportMetric(rate/5000, "x-vs-target-5000")
	b.ReportMetric(float64(rounds)/3/float64(ledgers), "rounds/ledger")
	b.ReportMetric(float64(maxRound), "max-round")
	b.ReportMetric(float64(fetches)/float64(ledgers), "ledger-fetches/ledger")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "virtual-ms-submit-to-accepted")
}
