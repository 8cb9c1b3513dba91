package ledger

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/outtree"
)

func open(t *testing.T, dir string, c *chain, o Options) *Store {
	t.Helper()
	s, err := Open(dir, cid, c.genesis, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAppendPersistsAcrossReopen(t *testing.T) {
	c := newChain(t, 4)
	dir := t.TempDir()
	s := open(t, dir, c, Options{})
	ds := c.build(5)
	for _, d := range ds {
		if err := s.Append(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, c, Options{})
	defer s.Close()
	tip := s.Tip()
	if got, want := tip.Hash(), ds[4].Record.Hash(); got != want {
		t.Fatalf("tip after reopen %s, want %s", got, want)
	}
	ins, err := s.Inputs(3)
	if err != nil || len(ins) != 2 || ins[1].Ordered() != ds[2].Record.Value.Inputs[1] {
		t.Fatalf("Inputs(3) = %d inputs, %v", len(ins), err)
	}
	if n, err := s.VerifyChain(); err != nil || n != 5 {
		t.Fatalf("VerifyChain = %d, %v", n, err)
	}
	h, err := s.History(3)
	if err != nil || len(h) != 3 || h[2].Record.Seq != 5 {
		t.Fatalf("History(3) = %d, %v", len(h), err)
	}
}

func TestAppendRejectsBadLedgers(t *testing.T) {
	c := newChain(t, 4)
	s := open(t, t.TempDir(), c, Options{})
	defer s.Close()
	good := c.next(c.genesis, 1, nil)

	gap := c.next(good.Record, 0, nil) // seq 2 before seq 1
	if err := s.Append(gap); !errors.Is(err, consensus.ErrBrokenChain) {
		t.Errorf("append out of order: %v, want ErrBrokenChain", err)
	}
	few := good
	few.Record.Cert = few.Record.Cert[:2]
	if err := s.Append(few); !errors.Is(err, consensus.ErrNoQuorum) {
		t.Errorf("append with 2 of 4 votes: %v, want ErrNoQuorum", err)
	}
	forged := good
	forged.Record.Cert = append([]consensus.Vote(nil), good.Record.Cert...)
	forged.Record.Cert[0].Sig[0] ^= 1
	if err := s.Append(forged); !errors.Is(err, consensus.ErrBadSignature) {
		t.Errorf("append with a forged vote: %v, want ErrBadSignature", err)
	}
	wrongInputs := good
	wrongInputs.Inputs = []consensus.Input{c.input(999)}
	if err := s.Append(wrongInputs); err == nil {
		t.Error("append with inputs that do not match the record succeeded")
	}
	if err := s.Append(good); err != nil {
		t.Fatalf("append good ledger: %v", err)
	}
}

func TestOpenRejectsOtherGenesis(t *testing.T) {
	c := newChain(t, 3)
	dir := t.TempDir()
	open(t, dir, c, Options{}).Close()
	other := newChain(t, 4)
	if _, err := Open(dir, cid, other.genesis, Options{}); !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("open with another genesis: %v", err)
	}
}

func TestRetentionKeepsLastN(t *testing.T) {
	c := newChain(t, 3)
	dir := t.TempDir()
	s := open(t, dir, c, Options{KeepRecords: 4, KeepRaw: 2})
	for _, d := range c.build(10) {
		if err := s.Append(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Record(6); !errors.Is(err, ErrNotFound) {
		t.Errorf("record 6 with KeepRecords 4 at tip 10: %v, want ErrNotFound", err)
	}
	if _, err := s.Record(7); err != nil {
		t.Errorf("record 7: %v", err)
	}
	if _, err := s.Inputs(8); !errors.Is(err, ErrNotFound) {
		t.Errorf("inputs 8 with KeepRaw 2: %v, want ErrNotFound", err)
	}
	if ins, err := s.Inputs(9); err != nil || len(ins) != 2 {
		t.Errorf("inputs 9: %d, %v", len(ins), err)
	}
	if n, err := s.VerifyChain(); err != nil || n != 3 {
		t.Errorf("VerifyChain from retained record 7: %d, %v", n, err)
	}
	s.Close()
	s = open(t, dir, c, Options{KeepRecords: 4})
	defer s.Close()
	if s.First() != 7 {
		t.Errorf("First after reopen = %d, want 7", s.First())
	}
}

func TestVerifyChainDetectsTampering(t *testing.T) {
	c := newChain(t, 4)
	s := open(t, t.TempDir(), c, Options{})
	defer s.Close()
	ds := c.build(4)
	for _, d := range ds {
		if err := s.Append(d); err != nil {
			t.Fatal(err)
		}
	}
	bad := ds[1].Record
	bad.Value.Time++
	b, _ := bad.MarshalBinary()
	if err := s.db.Set(key(kindRecord, 2), b, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyChain(); err == nil {
		t.Fatal("VerifyChain accepted a record altered on disk")
	}
}

func TestVerifyFetched(t *testing.T) {
	c := newChain(t, 4)
	ds := c.build(5)
	var recs []consensus.Record
	for _, d := range ds {
		recs = append(recs, d.Record)
	}
	if err := VerifyFetched(nil, cid, c.genesis, recs); err != nil {
		t.Fatalf("VerifyFetched on a good chain: %v", err)
	}
	recs[3], recs[2] = recs[2], recs[3]
	if err := VerifyFetched(nil, cid, c.genesis, recs); !errors.Is(err, consensus.ErrBrokenChain) {
		t.Fatalf("VerifyFetched on reordered ledgers: %v", err)
	}
	if err := VerifyFetched(nil, "other-contract", c.genesis, recs[:1]); !errors.Is(err, consensus.ErrBadSignature) {
		t.Fatalf("VerifyFetched under another contract id: %v", err)
	}
}

func TestOutputsStoredAndVerifiableByUsers(t *testing.T) {
	c := newChain(t, 4)
	s := open(t, t.TempDir(), c, Options{})
	defer s.Close()
	user := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)).Public().(ed25519.PublicKey)
	outs := []outtree.UserOutputs{{User: user, Outputs: [][]byte{[]byte("a"), []byte("bc")}}, {User: other, Outputs: [][]byte{[]byte("x")}}}
	d := c.next(c.genesis, 0, outs)
	if err := s.Append(d); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOutputs(1, outs[:1]); err == nil {
		t.Fatal("PutOutputs accepted outputs whose root differs from the record")
	}
	if err := s.PutOutputs(1, outs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Outputs(1)
	if err != nil || len(got) != 2 || string(got[0].Outputs[1]) != "bc" {
		t.Fatalf("Outputs(1) = %v, %v", got, err)
	}
	// What a user checks (hotpocket-js-client verifyContractOutputTrust): fold the tree with its own
	// output hash, then count UNL signatures over the root.
	r, _ := s.Record(1)
	tree := outtree.Of(got, outtree.Hash(r.Value.Result.StateHash))
	own := outtree.UserHash(user, outs[0].Outputs)
	view, err := tree.Collapse(own)
	if err != nil || consensus.Hash(tree.Root()) != r.Value.Result.OutputHash {
		t.Fatalf("no tree for user or root mismatch: %v", err)
	}
	folded, err := outtree.Fold(view, own)
	if err != nil || consensus.Hash(folded) != r.Value.Result.OutputHash {
		t.Fatalf("folded hash tree does not give the root: %v", err)
	}
	root := consensus.Hash(folded)
	good := 0
	for _, v := range r.UNLSigs() {
		if consensus.VerifyOutputSig(v.Signer, root, v.OutputSig) {
			good++
		}
	}
	if good*10 < 8*4 {
		t.Fatalf("%d valid unl_sig of 4, want >= 80%%", good)
	}
}

func FuzzDecodeOutputs(f *testing.F) {
	f.Add(encodeOutputs([]outtree.UserOutputs{{User: make([]byte, 32), Outputs: [][]byte{[]byte("hi")}}}))
	f.Add([]byte{0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		outs, err := DecodeOutputs(b)
		if err != nil {
			return
		}
		if again := encodeOutputs(outs); string(again) != string(b) {
			t.Fatalf("re-encoding a decoded value changed it")
		}
	})
}

func TestStoreAnchoredAtTrustedRecord(t *testing.T) {
	// A node that joined a running cluster keeps the chain from the ledger it anchored on.
	c := newChain(t, 4)
	ds := c.build(6)
	anchor := ds[1].Record // seq 2
	s, err := Open(t.TempDir(), cid, anchor, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, d := range ds[2:] {
		if err := s.Append(d); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := s.Record(2); err != nil || r.Hash() != anchor.Hash() {
		t.Fatalf("Record(anchor) = %v", err)
	}
	if n, err := s.VerifyChain(); err != nil || n != 4 {
		t.Fatalf("VerifyChain from anchor = %d, %v", n, err)
	}
	h, err := s.History(10)
	if err != nil || len(h) != 4 || h[0].Record.Seq != 3 {
		t.Fatalf("History = %d records, %v", len(h), err)
	}
	if s.First() != 3 {
		t.Fatalf("First = %d, want 3", s.First())
	}
}
