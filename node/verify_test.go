package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hpfs/hpnode/consensus"
)

func signedInput(t testing.TB, k ed25519.PrivateKey, nonce uint64) consensus.Input {
	t.Helper()
	c := []byte(fmt.Sprintf(`{"input":"in-%d","nonce":%d,"max_ledger_seq_no":100}`, nonce, nonce))
	in := consensus.Input{Nonce: nonce, MaxLedgerSeq: 100, Container: c}
	copy(in.User[:], k.Public().(ed25519.PublicKey))
	copy(in.Sig[:], ed25519.Sign(k, c))
	return in
}

func testKey(seed byte) ed25519.PrivateKey {
	var s [32]byte
	s[0] = seed
	return ed25519.NewKeyFromSeed(s[:])
}

// TestInputVerifierRemembersOnlyGoodInputs: a batch is checked on several goroutines; consensus's
// VerifyInput then accepts each good input from memory exactly once, and checks every other input
// in full (a bad signature and fields a relay changed are both refused).
func TestInputVerifierRemembersOnlyGoodInputs(t *testing.T) {
	v := newInputVerifier()
	v.workers = 4
	k := testKey(1)
	var batch []consensus.Input
	for i := uint64(1); i <= 50; i++ {
		batch = append(batch, signedInput(t, k, i))
	}
	badSig := signedInput(t, k, 51)
	badSig.Sig[0] ^= 1
	moved := signedInput(t, k, 52)
	moved.Nonce = 99 // the signed container says 52
	batch = append(batch, badSig, moved)
	v.verifyAll(batch)
	if len(v.ok) != 50 {
		t.Fatalf("remembered %d inputs, want the 50 good ones", len(v.ok))
	}
	for i := range batch[:50] {
		if err := v.verify(&batch[i]); err != nil {
			t.Fatalf("good input %d: %v", i, err)
		}
	}
	if len(v.ok) != 0 {
		t.Fatalf("%d inputs still remembered after consensus consulted each", len(v.ok))
	}
	if err := v.verify(&batch[0]); err != nil {
		t.Fatalf("a good input not remembered must still verify in full: %v", err)
	}
	if err := v.verify(&badSig); !errors.Is(err, consensus.ErrBadSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	if err := v.verify(&moved); !errors.Is(err, errInputFields) {
		t.Fatalf("changed nonce: %v", err)
	}
	// A remembered input does not vouch for another container under its signature.
	v.verifyAll(batch[:1])
	forged := batch[0]
	forged.Container = append([]byte(nil), forged.Container...)
	forged.Container[10] ^= 1
	if err := v.verify(&forged); err == nil {
		t.Fatal("forged container accepted from memory")
	}
}

// TestInputVerifierKeepsBatchOrderAndBound: batches reach consensus in the order they arrived,
// and the memory never exceeds its bound.
func TestInputVerifierKeepsBatchOrderAndBound(t *testing.T) {
	v := newInputVerifier()
	v.ring = make([]verifiedKey, 8) // a small bound
	k := testKey(2)
	out := make(chan consensus.Message, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.run(ctx, out); close(done) }()
	for b := uint64(0); b < 5; b++ {
		var ins []consensus.Input
		for i := uint64(1); i <= 3; i++ {
			ins = append(ins, signedInput(t, k, b*10+i))
		}
		if !v.submit(consensus.Message{Type: consensus.MsgInputBatch, Inputs: ins}) {
			t.Fatal("queue full")
		}
	}
	for b := uint64(0); b < 5; b++ {
		m := <-out
		if m.Inputs[0].Nonce != b*10+1 {
			t.Fatalf("batch %d arrived as nonce %d", b, m.Inputs[0].Nonce)
		}
	}
	cancel()
	<-done
	if len(v.ok) > 8 {
		t.Fatalf("memory holds %d inputs over its bound 8", len(v.ok))
	}
}

// FuzzInputVerifier: whatever a relaying peer sends (any container, nonce, ledger limit, protocol
// and signature, possibly after a good input was remembered), the verifier never panics, and an
// input it accepts is one whose signature and fields check in full.
func FuzzInputVerifier(f *testing.F) {
	k := testKey(3)
	good := signedInput(f, k, 7)
	f.Add(good.Container, good.Sig[:], uint64(7), uint64(100), uint8(0))
	f.Add([]byte(`{"input":"x","nonce":1}`), make([]byte, 64), uint64(1), uint64(1), uint8(1))
	v := newInputVerifier()
	f.Fuzz(func(t *testing.T, container, sig []byte, nonce, maxSeq uint64, proto uint8) {
		v.verifyAll([]consensus.Input{good})
		in := consensus.Input{User: good.User, Nonce: nonce, MaxLedgerSeq: maxSeq, Protocol: proto % 2, Container: container}
		copy(in.Sig[:], sig)
		v.verifyAll([]consensus.Input{in})
		if v.verify(&in) == nil {
			if err := checkInput(&in); err != nil {
				t.Fatalf("accepted an input that fails the full check: %v", err)
			}
		}
	})
}

// TestCheckInputsRefusesAlteredFetchedInput: fetched ledgers' inputs are checked in full; one
// container altered under its original signature (which keeps the ordered hash the certificate
// covers) fails the whole batch.
func TestCheckInputsRefusesAlteredFetchedInput(t *testing.T) {
	k := testKey(4)
	var ds []consensus.Decided
	for l := uint64(0); l < 5; l++ {
		var d consensus.Decided
		for i := uint64(1); i <= 300; i++ {
			d.Inputs = append(d.Inputs, signedInput(t, k, l*1000+i))
		}
		ds = append(ds, d)
	}
	if err := checkInputs(ds); err != nil {
		t.Fatalf("good ledgers: %v", err)
	}
	in := &ds[3].Inputs[123]
	oh := in.Ordered()
	in.Container = []byte(strings.Replace(string(in.Container), `"in-`, `"IN-`, 1))
	if in.Ordered() != oh {
		t.Fatal("test setup: the altered input's ordered hash changed")
	}
	if err := checkInputs(ds); !errors.Is(err, consensus.ErrBadSignature) {
		t.Fatalf("altered container: %v, want ErrBadSignature", err)
	}
}
