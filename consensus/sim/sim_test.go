package sim

import (
	"errors"
	"flag"
	"fmt"
	"testing"
)

var (
	flagSeeds = flag.Int("sim.seeds", 1000, "seeds per cluster size")
	flagSeed  = flag.Int64("sim.seed", -1, "run only this seed (reproduce a failure)")
)

// TestSimSafetyAndLiveness runs -sim.seeds seeds for each cluster size; each seed draws a fault
// profile (ForSeed). Every run checks that no two nodes close different ledgers at one sequence,
// that every closed ledger carries a valid quorum certificate of the UNL governing it, that every
// honest node reaches the target ledger after the last fault heals and every submitted input gets a
// status, and that a non-deterministic node reports desync and gets a sync target.
func TestSimSafetyAndLiveness(t *testing.T) {
	for _, nodes := range []int{3, 4, 7, 10} {
		name := fmt.Sprintf("nodes=%d", nodes)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			first, last := uint64(1), uint64(*flagSeeds)
			if *flagSeed >= 0 {
				first, last = uint64(*flagSeed), uint64(*flagSeed)
			}
			for s := first; s <= last; s++ {
				o := ForSeed(nodes, s)
				rep, err := Run(o)
				if err == nil && o.NonDet && (!rep.DesyncReported || rep.SyncTargets == 0) {
					err = errors.New("non-deterministic node never reported desync")
				}
				if err != nil {
					t.Fatalf("%v: %v\nreproduce: go test ./consensus/sim -run 'TestSimSafetyAndLiveness/%s$' -sim.seed=%d -v", o, err, name, s)
				}
			}
		})
	}
}

// TestSimReportsLivenessFailure proves the liveness check can fail: with every message dropped no
// ledger closes, and the run must end with ErrLiveness rather than hang or pass.
func TestSimReportsLivenessFailure(t *testing.T) {
	_, err := Run(Options{Nodes: 3, Drop: 1, Seed: 1})
	if !errors.Is(err, ErrLiveness) {
		t.Fatalf("Run with every message dropped: %v, want ErrLiveness", err)
	}
}

// TestSimWithEd25519 runs a few seeds of every profile with real Ed25519 signatures, so the cheap
// scheme the sweep uses is not what makes it pass.
func TestSimWithEd25519(t *testing.T) {
	for s := uint64(1); s <= 5; s++ {
		o := ForSeed(7, s)
		o.RealSigs = true
		if _, err := Run(o); err != nil {
			t.Fatalf("%v: %v", o, err)
		}
	}
}
