package sim

import (
	"testing"
	"time"
)

// TestSimInputStream submits a continuous stream of inputs to one node (5,000 per virtual second
// for one second, over FIFO links with 1-8 ms delays, as the node's relays travel) and requires
// that every input is accepted, none rejected, that ledgers keep closing in their first rounds
// while inputs flow (a round that only converges once the flow stops needs later rounds), and
// that the last input is accepted within a few round trips of the end of the stream.
func TestSimInputStream(t *testing.T) {
	for _, nodes := range []int{3, 7} {
		o := Options{Nodes: nodes, Seed: 7, StreamRate: 5000, StreamFor: time.Second, ExecPerInput: 50 * time.Microsecond}
		rep, err := Run(o)
		if err != nil {
			t.Fatalf("%d nodes: %v", nodes, err)
		}
		want := o.StreamRate * int(o.StreamFor/time.Millisecond) / 1000
		t.Logf("%d nodes: accepted %d rejected %d ledgers %d rounds %d max round %d last accept %v", nodes, rep.Accepted, rep.Rejected, rep.MinLedger, rep.Rounds, rep.MaxRound, rep.LastAccept)
		if rep.Accepted != want || rep.Rejected != 0 {
			t.Errorf("%d nodes: accepted %d, rejected %d of %d streamed inputs", nodes, rep.Accepted, rep.Rejected, want)
		}
		if rep.MaxRound > 1 {
			t.Errorf("%d nodes: a ledger needed round %d while inputs flowed", nodes, rep.MaxRound)
		}
		if late := rep.LastAccept - o.StreamFor; late > 200*time.Millisecond {
			t.Errorf("%d nodes: last input accepted %v after the stream ended", nodes, late)
		}
	}
}
