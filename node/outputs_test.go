package node

import (
	"crypto/ed25519"
	"log/slog"
	"testing"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/outtree"
	"github.com/hpfs/hpnode/userapi"
)

// TestLateOutputsReleasedFromChainPastLateCertWindow is a node that executes ledger 3 only after
// its certifying ledger (4) and many more closed, so the in-memory late certificate is gone: its
// users still get the outputs, once, with the certifying ledger's id.
func TestLateOutputsReleasedFromChainPastLateCertWindow(t *testing.T) {
	user := ed25519.PublicKey(testKey(9)[32:])
	users := []outtree.UserOutputs{{User: user, Outputs: [][]byte{[]byte("echo: late")}}}
	tree := outtree.Of(users, outtree.Hash{1})

	const executed = 3
	s := consensus.NewEd25519Signer(testKey(7))
	g := consensus.Genesis(1000, consensus.Result{Config: consensus.UNLConfig{UNL: []consensus.PubKey{s.PublicKey()}, Threshold: 80}})
	prev := g
	var ds []consensus.Decided
	for i := 0; i < executed+maxLateCerts+4; i++ {
		v := consensus.Value{Time: prev.Value.Time + 10, Nonces: []consensus.Hash{{byte(i)}}}
		v.Result = consensus.Result{Seq: prev.Seq, Config: prev.Value.Result.Config.Clone()}
		if prev.Seq == executed {
			v.Result.OutputHash = consensus.Hash(tree.Root())
		}
		r := consensus.Record{Seq: prev.Seq + 1, Prev: prev.Hash(), Value: v}
		r.Sign(reanchorCID, s)
		ds = append(ds, consensus.Decided{Record: r})
		prev = r
	}
	db, _, err := openNodeDB(t.TempDir(), reanchorCID, g, 0, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	if err := db.chain.AppendAll(ds); err != nil {
		t.Fatal(err)
	}

	n := &Node{db: db, events: newEventHub(), logger: slog.Default()}
	var sent []*userapi.RoundOutputs
	n.events.subscribe(func(e userapi.Event) {
		if ro, ok := e.(*userapi.RoundOutputs); ok {
			sent = append(sent, ro)
		}
	})
	n.outputs.put(executed, execOutcome{result: consensus.Result{Seq: executed, OutputHash: consensus.Hash(tree.Root())}, tree: tree, outputs: users})
	n.view.setResult(consensus.Result{Seq: executed})

	n.releaseLateOutputs(executed)
	if len(sent) != 1 {
		t.Fatalf("released %d round outputs, want 1", len(sent))
	}
	if got := sent[0]; got.Ledger.Seq != executed+1 || len(got.Users) != 1 || string(got.Users[0].Outputs[0]) != "echo: late" || len(got.Sigs) != 1 {
		t.Fatalf("released %+v", got)
	}
	n.releaseLateOutputs(executed)
	if len(sent) != 1 {
		t.Fatalf("released the same outputs %d times", len(sent))
	}
	// An execution whose certifying ledger has not closed waits for it.
	n.outputs.put(prev.Seq, execOutcome{result: consensus.Result{Seq: prev.Seq}, tree: tree, outputs: users})
	n.releaseLateOutputs(prev.Seq)
	if len(sent) != 1 {
		t.Fatal("released outputs of an execution no stored ledger certifies")
	}
}
