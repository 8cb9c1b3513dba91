package consensus

import (
	"testing"
	"time"
)

// burstInputs returns n inputs of one user with consecutive nonces and distinct signatures (the
// benchmarks stub signature checks: Ed25519 is measured where it runs, in userapi and p2p).
func burstInputs(n int) []Input {
	ins := make([]Input, n)
	for i := range ins {
		ins[i] = Input{Nonce: uint64(i + 1), MaxLedgerSeq: 1 << 40, Container: []byte("burst input of a typical size, about sixty bytes long")}
		ins[i].User[0] = 1
		ins[i].Sig[0], ins[i].Sig[1], ins[i].Sig[2] = byte(i), byte(i>>8), byte(i>>16)
	}
	return ins
}

// BenchmarkStepSubmit measures what one submitted input costs the node's loop while a round is
// open and its peers' stage-0 proposals arrive with growing input sets (the burst the issue
// measures): Step per input plus one Ready per 256 steps, as node/loop.go drains them.
func BenchmarkStepSubmit(b *testing.B) {
	tn := newTestNet(b, 3, 0)
	nd := tn.nodes[0]
	nd.cfg.VerifyInput = func(*Input) error { return nil }
	ins := burstInputs(max(b.N, 1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = nd.Step(Message{Type: MsgSubmit, Inputs: ins[i : i+1]})
		if i%256 == 255 {
			rd, _ := nd.Ready()
			nd.Advance(rd)
		}
	}
	b.StopTimer()
	tn.now = tn.now.Add(time.Millisecond)
}
