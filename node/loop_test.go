package node

import (
	"testing"

	"github.com/hpfs/hpnode/consensus"
)

func TestCoalesceInputBatchesKeepsOrderAndOtherMessages(t *testing.T) {
	in := func(n uint64) consensus.Input { return consensus.Input{Nonce: n} }
	msgs := []consensus.Message{
		{Type: consensus.MsgInputBatch, Inputs: []consensus.Input{in(1)}},
		{Type: consensus.MsgProposal},
		{Type: consensus.MsgInputBatch, Inputs: []consensus.Input{in(2), in(3)}},
		{Type: consensus.MsgInputBatch, To: consensus.PubKey{9}, Inputs: []consensus.Input{in(4)}},
	}
	out := coalesceInputBatches(msgs)
	if len(out) != 3 || out[0].Type != consensus.MsgInputBatch || out[1].Type != consensus.MsgProposal || out[2].To != (consensus.PubKey{9}) {
		t.Fatalf("got %+v", out)
	}
	if len(out[0].Inputs) != 3 || out[0].Inputs[0].Nonce != 1 || out[0].Inputs[2].Nonce != 3 {
		t.Fatalf("batch %+v", out[0].Inputs)
	}
	var many []consensus.Message
	for i := range 2*maxBatchInputs + 1 {
		many = append(many, consensus.Message{Type: consensus.MsgInputBatch, Inputs: []consensus.Input{in(uint64(i))}})
	}
	if got := coalesceInputBatches(many); len(got) != 3 || len(got[2].Inputs) != 1 {
		t.Fatalf("%d inputs in %d messages, last %d", 2*maxBatchInputs+1, len(got), len(got[len(got)-1].Inputs))
	}
}
