package ledger

import (
	"errors"
	"testing"

	"github.com/hpfs/hpnode/consensus"
)

func TestReanchorReplacesTheChainAndSurvivesReopen(t *testing.T) {
	c := newChain(t, 4)
	ds := c.build(12)
	dir := t.TempDir()
	s := open(t, dir, c, Options{})
	if err := s.AppendAll(ds[:4]); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOutputs(4, nil); err != nil {
		t.Fatal(err)
	}
	base, tip := ds[9].Record, ds[10] // seqs 10 and 11: the ledgers between are "pruned everywhere"
	if err := s.Reanchor(base, tip); err != nil {
		t.Fatal(err)
	}
	if g := s.Genesis(); g.Hash() != base.Hash() {
		t.Fatalf("genesis %d after reanchor, want %d", g.Seq, base.Seq)
	}
	if s.Tip().Seq != 11 || s.First() != 11 {
		t.Fatalf("tip %d first %d, want 11 and 11", s.Tip().Seq, s.First())
	}
	for _, seq := range []uint64{1, 4} {
		if _, err := s.Record(seq); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old ledger %d still stored: %v", seq, err)
		}
	}
	if _, err := s.Outputs(4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old outputs still stored: %v", err)
	}
	if ins, err := s.Inputs(11); err != nil || len(ins) != len(tip.Inputs) {
		t.Fatalf("inputs of the new tip: %d, %v", len(ins), err)
	}
	if err := s.Append(ds[11]); err != nil {
		t.Fatalf("append after reanchor: %v", err)
	}
	if n, err := s.VerifyChain(); err != nil || n != 2 {
		t.Fatalf("VerifyChain after reanchor = %d, %v", n, err)
	}
	s.Close()

	if _, err := Open(dir, cid, c.genesis, Options{}); !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("reopen with the old genesis: %v", err)
	}
	s, err := Open(dir, cid, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Tip().Seq != 12 {
		t.Fatalf("tip after reopen %d, want 12", s.Tip().Seq)
	}
}

func TestReanchorRejectsAnUnverifiablePairAndKeepsTheChain(t *testing.T) {
	c := newChain(t, 4)
	ds := c.build(8)
	s := open(t, t.TempDir(), c, Options{})
	defer s.Close()
	if err := s.AppendAll(ds[:3]); err != nil {
		t.Fatal(err)
	}
	unlinked := ds[7]
	badSig := ds[7]
	badSig.Record.Cert = append([]consensus.Vote(nil), ds[7].Record.Cert...)
	badSig.Record.Cert[0].Sig[0] ^= 1
	badInput := ds[7]
	if len(badInput.Inputs) == 0 {
		t.Fatal("test chain: ledger 8 has no inputs")
	}
	badInput.Inputs = append([]consensus.Input(nil), ds[7].Inputs...)
	badInput.Inputs[0].Sig[0] ^= 1
	for name, tc := range map[string]struct {
		base consensus.Record
		tip  consensus.Decided
	}{
		"tip does not follow base":  {ds[4].Record, unlinked},
		"certificate does not hold": {ds[6].Record, badSig},
		"input not the recorded":    {ds[6].Record, badInput},
	} {
		if err := s.Reanchor(tc.base, tc.tip); err == nil {
			t.Fatalf("%s: reanchored", name)
		}
		if g := s.Genesis(); s.Tip().Seq != 3 || g.Hash() != c.genesis.Hash() {
			t.Fatalf("%s: chain changed by a rejected reanchor", name)
		}
	}
}
