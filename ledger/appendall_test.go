package ledger

import (
	"errors"
	"testing"

	"github.com/hpfs/hpnode/consensus"
)

// TestAppendAllStoresABatchAndPrunes: many ledgers in one call end where appending them one by one
// ends (tip, inputs, retention), and survive a reopen.
func TestAppendAllStoresABatchAndPrunes(t *testing.T) {
	c := newChain(t, 3)
	dir := t.TempDir()
	s := open(t, dir, c, Options{KeepRecords: 20, KeepRaw: 5})
	ds := c.build(50)
	if err := s.AppendAll(ds[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAll(ds[2:]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAll(nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	s.Close()
	s = open(t, dir, c, Options{KeepRecords: 20, KeepRaw: 5})
	defer s.Close()
	if tip := s.Tip(); tip.Hash() != ds[49].Record.Hash() || s.First() != 31 {
		t.Fatalf("tip %d first %d, want 50 and 31", tip.Seq, s.First())
	}
	if _, err := s.Inputs(45); !errors.Is(err, ErrNotFound) {
		t.Errorf("inputs 45 with KeepRaw 5 at tip 50: %v, want ErrNotFound", err)
	}
	if ins, err := s.Inputs(48); err != nil || len(ins) != 2 {
		t.Errorf("inputs 48: %d, %v", len(ins), err)
	}
	if n, err := s.VerifyChain(); err != nil || n != 19 {
		t.Errorf("VerifyChain = %d, %v", n, err)
	}
}

// TestAppendAllRejectsABrokenBatchWhole: one bad ledger anywhere in a batch (a gap, a forged
// certificate, inputs that are not the recorded ones) stores nothing of the batch.
func TestAppendAllRejectsABrokenBatchWhole(t *testing.T) {
	c := newChain(t, 4)
	ds := c.build(6)
	cases := map[string]func([]consensus.Decided) []consensus.Decided{
		"gap": func(b []consensus.Decided) []consensus.Decided { return append(b[:3:3], b[4:]...) },
		"bad signature": func(b []consensus.Decided) []consensus.Decided {
			b[4].Record.Cert[0].Sig[0] ^= 1
			return b
		},
		"inputs not the recorded ones": func(b []consensus.Decided) []consensus.Decided {
			b[4].Inputs = b[4].Inputs[:len(b[4].Inputs)-1]
			return b
		},
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			s := open(t, t.TempDir(), c, Options{})
			defer s.Close()
			batch := make([]consensus.Decided, len(ds))
			for i, d := range ds {
				batch[i] = consensus.Decided{Record: d.Record, Inputs: append([]consensus.Input(nil), d.Inputs...)}
				batch[i].Record.Cert = append([]consensus.Vote(nil), d.Record.Cert...)
			}
			if err := s.AppendAll(breakIt(batch)); err == nil {
				t.Fatal("broken batch accepted")
			}
			if s.Tip().Seq != 0 {
				t.Fatalf("tip moved to %d after a rejected batch", s.Tip().Seq)
			}
			if _, err := s.Record(1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("record 1 after a rejected batch: %v", err)
			}
			if err := s.AppendAll(ds); err != nil {
				t.Fatalf("the good batch after a rejected one: %v", err)
			}
		})
	}
}

// TestTipReadableWhileAppending: a node answers peers' tip requests while its loop appends; under
// -race this fails if the tip is read without the writer's lock.
func TestTipReadableWhileAppending(t *testing.T) {
	c := newChain(t, 3)
	s := open(t, t.TempDir(), c, Options{NoSync: true})
	defer s.Close()
	ds := c.build(40)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for last := uint64(0); last < 40; {
			tip := s.Tip()
			if tip.Seq < last {
				t.Errorf("tip went back from %d to %d", last, tip.Seq)
				return
			}
			last = tip.Seq
			_ = s.First()
		}
	}()
	for i := range ds {
		if err := s.Append(ds[i]); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}
