package node

import (
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/consensus"
)

const reanchorCID = "reanchor-test"

// testChain returns a genesis and n certified successors, signed by a one-key UNL.
func testChain(t *testing.T, n int) (consensus.Record, []consensus.Decided) {
	t.Helper()
	s := consensus.NewEd25519Signer(testKey(7))
	g := consensus.Genesis(1000, consensus.Result{Config: consensus.UNLConfig{UNL: []consensus.PubKey{s.PublicKey()}, Threshold: 80}})
	prev := g
	var out []consensus.Decided
	for i := 0; i < n; i++ {
		v := consensus.Value{Time: prev.Value.Time + 10, Nonces: []consensus.Hash{{byte(i)}}}
		v.Result = consensus.Result{Seq: prev.Seq, StateHash: consensus.Hash{byte(i), 1}, Config: prev.Value.Result.Config.Clone()}
		r := consensus.Record{Seq: prev.Seq + 1, Prev: prev.Hash(), Value: v}
		r.Sign(reanchorCID, s)
		out = append(out, consensus.Decided{Record: r})
		prev = r
	}
	return g, out
}

// crashMidReanchor re-anchors a store at ds[base] and ds[base+1] but stops where a crash would:
// with chainTook the chain is re-anchored and the meta store is not finished; without it only the
// pending base is written.
func crashMidReanchor(t *testing.T, dir string, g consensus.Record, ds []consensus.Decided, base int, chainTook bool) {
	t.Helper()
	d, _, err := openNodeDB(dir, reanchorCID, g, 0, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if err := d.chain.AppendAll(ds[:2]); err != nil {
		t.Fatal(err)
	}
	b, _ := ds[base].Record.MarshalBinary()
	if err := d.meta.Set([]byte(pendingGenesisKey), b, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if chainTook {
		if err := d.chain.Reanchor(ds[base].Record, ds[base+1]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReopenFinishesOrDropsAPendingReanchor(t *testing.T) {
	g, ds := testChain(t, 8)
	for _, chainTook := range []bool{true, false} {
		dir := t.TempDir()
		crashMidReanchor(t, dir, g, ds, 5, chainTook)
		d, _, err := openNodeDB(dir, reanchorCID, g, 0, slog.Default())
		if err != nil {
			t.Fatalf("chainTook=%v: reopen: %v", chainTook, err)
		}
		want, tip := g, uint64(2)
		if chainTook {
			want, tip = ds[5].Record, 7
		}
		if got := d.chain.Genesis(); got.Hash() != want.Hash() || d.chain.Tip().Seq != tip {
			t.Fatalf("chainTook=%v: genesis %d tip %d, want %d and %d", chainTook, got.Seq, d.chain.Tip().Seq, want.Seq, tip)
		}
		if _, closer, err := d.meta.Get([]byte(pendingGenesisKey)); err == nil {
			closer.Close()
			t.Fatalf("chainTook=%v: pending re-anchor left in the meta store", chainTook)
		}
		d.close()
		// The meta store's genesis now agrees with the chain: a plain reopen works.
		d, _, err = openNodeDB(dir, reanchorCID, g, 0, slog.Default())
		if err != nil {
			t.Fatalf("chainTook=%v: second reopen: %v", chainTook, err)
		}
		d.close()
	}
}

func TestNodeDBReanchorRejectsAnUnlinkedPair(t *testing.T) {
	g, ds := testChain(t, 6)
	d, _, err := openNodeDB(t.TempDir(), reanchorCID, g, 0, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if err := d.reanchor(ds[1].Record, ds[4]); err == nil {
		t.Fatal("re-anchored on a tip that does not follow its base")
	}
	if _, closer, err := d.meta.Get([]byte(pendingGenesisKey)); err == nil {
		closer.Close()
		t.Fatal("a failed re-anchor left its pending base")
	}
	if err := d.reanchor(ds[3].Record, ds[4]); err != nil {
		t.Fatal(err)
	}
	if got := d.chain.Genesis(); got.Seq != 4 || d.chain.Tip().Seq != 5 {
		t.Fatalf("genesis %d tip %d after re-anchor", got.Seq, d.chain.Tip().Seq)
	}
}
