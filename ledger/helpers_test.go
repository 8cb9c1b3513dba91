package ledger

import (
	"crypto/ed25519"
	"fmt"
	"sort"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/outtree"
)

const cid = "ledger-test"

type chain struct {
	signers []consensus.Signer
	genesis consensus.Record
	users   []ed25519.PrivateKey
}

func newChain(tb testing.TB, n int) *chain {
	tb.Helper()
	c := &chain{}
	var unl []consensus.PubKey
	for i := 0; i < n; i++ {
		seed := blake3.Sum256([]byte(fmt.Sprintf("node %d", i)))
		s := consensus.NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:]))
		c.signers = append(c.signers, s)
		unl = append(unl, s.PublicKey())
	}
	sort.Slice(unl, func(i, j int) bool { return string(unl[i][:]) < string(unl[j][:]) })
	c.genesis = consensus.Genesis(1000, consensus.Result{StateHash: blake3.Sum256([]byte("s0")), Config: consensus.UNLConfig{UNL: unl, Threshold: 80}})
	seed := blake3.Sum256([]byte("user"))
	c.users = append(c.users, ed25519.NewKeyFromSeed(seed[:]))
	return c
}

func (c *chain) input(nonce uint64) consensus.Input {
	u := c.users[0]
	in := consensus.Input{Nonce: nonce, MaxLedgerSeq: 1 << 40, Container: []byte(fmt.Sprintf(`{"input":"%d"}`, nonce))}
	copy(in.User[:], u.Public().(ed25519.PublicKey))
	copy(in.Sig[:], ed25519.Sign(u, in.Container))
	return in
}

// next builds a certified successor of prev with k inputs and outputs for one user.
func (c *chain) next(prev consensus.Record, k int, outs []outtree.UserOutputs) consensus.Decided {
	var ins []consensus.Input
	v := consensus.Value{Time: prev.Value.Time + 10, Nonces: []consensus.Hash{blake3.Sum256([]byte{byte(prev.Seq)})}}
	for i := 0; i < k; i++ {
		in := c.input(prev.Seq*100 + uint64(i) + 1)
		ins = append(ins, in)
		v.Inputs = append(v.Inputs, in.Ordered())
	}
	if k > 0 {
		v.Users = []consensus.PubKey{ins[0].User}
	}
	st := blake3.Sum256(append(prev.Value.Result.StateHash[:], byte(prev.Seq)))
	v.Result = consensus.Result{Seq: prev.Seq, StateHash: st, Config: prev.Value.Result.Config.Clone()}
	v.Result.OutputHash = consensus.Hash(outtree.Of(outs, outtree.Hash(st)).Root())
	r := consensus.Record{Seq: prev.Seq + 1, Prev: prev.Hash(), Value: v}
	q := consensus.CloseQuorum(80, len(c.signers))
	for _, s := range c.signers[:q] {
		r.Sign(cid, s)
	}
	return consensus.Decided{Record: r, Inputs: ins}
}

func (c *chain) build(n int) []consensus.Decided {
	prev := c.genesis
	var out []consensus.Decided
	for i := 0; i < n; i++ {
		d := c.next(prev, i%3, nil)
		out = append(out, d)
		prev = d.Record
	}
	return out
}
