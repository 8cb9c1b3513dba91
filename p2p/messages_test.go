package p2p

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

// testProposal is a stand-in for consensus's proposal: key ‖ sig ‖ body.
func testProposal(key ed25519.PrivateKey, body string) []byte {
	out := append([]byte{}, pub(key)...)
	out = append(out, ed25519.Sign(key, []byte("test-proposal"+body))...)
	return append(out, body...)
}

func testProposalVerifier(p []byte) (ed25519.PublicKey, error) {
	if len(p) < 96 {
		return nil, errors.New("short proposal")
	}
	k := ed25519.PublicKey(p[:32])
	if !ed25519.Verify(k, append([]byte("test-proposal"), p[96:]...), p[32:96]) {
		return nil, errors.New("bad proposal signature")
	}
	return k, nil
}

type inbox struct{ ch chan string }

func newInbox() *inbox { return &inbox{ch: make(chan string, 64)} }

func (i *inbox) handler(_ PeerID, _ Kind, p []byte) { i.ch <- string(p) }

// expect waits for want; anything else first is a failure.
func (i *inbox) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-i.ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%q not delivered", want)
	}
}

func (i *inbox) empty(t *testing.T) {
	t.Helper()
	select {
	case got := <-i.ch:
		t.Fatalf("unexpected delivery %q", got)
	default:
	}
}

// TestNonUNLProposalsDropped: a proposal whose signer is outside the UNL
// never reaches the handler and counts as bad; a UNL signer's proposal,
// even relayed by a non-UNL peer, does; the UNL can change at runtime.
func TestNonUNLProposalsDropped(t *testing.T) {
	akey, bkey, ckey := newKey(t), newKey(t), newKey(t)
	a := startNode(t, fastConfig(akey))
	a.SetUNL([]ed25519.PublicKey{pub(akey), pub(ckey)})
	a.SetVerifier(KindProposal, testProposalVerifier)
	in := newInbox()
	a.Handle(KindProposal, in.handler)
	b := connectPair(t, a, fastConfig(bkey))

	b.Send(a.ID(), KindProposal, testProposal(bkey, "from b, not in UNL"))
	eventually(t, 15*time.Second, "non-UNL counted", func() bool { return a.met.Drops("non-unl") == 1 })
	forged := testProposal(ckey, "forged")
	forged[40] ^= 1
	b.Send(a.ID(), KindProposal, forged)
	b.Send(a.ID(), KindProposal, testProposal(ckey, "c relayed by b"))
	in.expect(t, string(testProposal(ckey, "c relayed by b")))
	if a.met.Drops("bad") != 2 {
		t.Fatalf("bad drops %d, want 2 (non-UNL and forged)", a.met.Drops("bad"))
	}
	in.empty(t)

	a.SetUNL([]ed25519.PublicKey{pub(akey), pub(bkey)})
	b.Send(a.ID(), KindProposal, testProposal(bkey, "b now in UNL"))
	in.expect(t, string(testProposal(bkey, "b now in UNL")))
}

func TestNPLCarriesLedgerAndFiltersSigners(t *testing.T) {
	akey, bkey := newKey(t), newKey(t)
	a := startNode(t, fastConfig(akey))
	b := connectPair(t, a, fastConfig(bkey))
	a.SetUNL([]ed25519.PublicKey{pub(akey), pub(bkey)})
	b.SetUNL([]ed25519.PublicKey{pub(akey), pub(bkey)})
	got := make(chan NPLMessage, 4)
	a.Handle(KindNPL, func(_ PeerID, _ Kind, p []byte) {
		m, err := DecodeNPL(p)
		if err != nil {
			t.Errorf("delivered NPL does not decode: %v", err)
		}
		got <- m
	})
	l := LedgerID{Seq: 42, Hash: [32]byte{9, 9}}
	if n, err := b.SendNPL(l, []byte("npl data"), ToUNL); err != nil || n != 1 {
		t.Fatalf("SendNPL reached %d peers: %v", n, err)
	}
	select {
	case m := <-got:
		if m.Ledger != l || string(m.Data) != "npl data" || m.Signer != b.ID() {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NPL not delivered")
	}

	// Signed by a non-UNL key: dropped.
	outsider, err := SignNPL(newKey(t), testContract, l, []byte("outsider"))
	if err != nil {
		t.Fatal(err)
	}
	b.Send(a.ID(), KindNPL, outsider.Encode())
	// Signed for another contract: the domain-separated signature fails.
	other, err := SignNPL(bkey, "other-contract", l, []byte("other"))
	if err != nil {
		t.Fatal(err)
	}
	b.Send(a.ID(), KindNPL, other.Encode())
	// Ledger altered after signing: fails.
	moved, _ := SignNPL(bkey, testContract, l, []byte("moved"))
	moved.Ledger.Seq++
	b.Send(a.ID(), KindNPL, moved.Encode())
	eventually(t, 15*time.Second, "three bad NPL", func() bool { return a.met.Drops("bad") == 3 })
	select {
	case m := <-got:
		t.Fatalf("bad NPL delivered: %+v", m)
	default:
	}
}

func TestBroadcastScopes(t *testing.T) {
	akey := newKey(t)
	a := startNode(t, fastConfig(akey))
	b := connectPair(t, a, fastConfig(newKey(t)))
	c := connectPair(t, a, fastConfig(newKey(t)))
	inB, inC := newInbox(), newInbox()
	b.Handle(KindUserInputs, inB.handler)
	c.Handle(KindUserInputs, inC.handler)
	a.SetUNL([]ed25519.PublicKey{b.ID().PublicKey()})
	if n, err := a.Broadcast(KindUserInputs, []byte("unl only"), ToUNL); err != nil || n != 1 {
		t.Fatalf("ToUNL sent to %d (%v), want 1", n, err)
	}
	inB.expect(t, "unl only")
	if n, _ := a.Broadcast(KindUserInputs, []byte("all"), ToAll); n != 2 {
		t.Fatalf("ToAll sent to %d, want 2", n)
	}
	inB.expect(t, "all")
	inC.expect(t, "all")
	inC.empty(t)
	if a.met.Out(b.ID(), KindUserInputs).Messages != 2 || b.met.In(a.ID(), KindUserInputs).Messages != 2 {
		t.Fatal("per-peer, per-kind counters not kept")
	}
	if _, err := a.Broadcast(KindUserInputs, bytes.Repeat([]byte{1}, a.cfg.MaxMessageSize+1), ToAll); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized broadcast: %v", err)
	}
}

func TestPingMeasuresRTT(t *testing.T) {
	cfg := fastConfig(newKey(t))
	cfg.PingInterval = 50 * time.Millisecond
	a := startNode(t, cfg)
	b := connectPair(t, a, fastConfig(newKey(t)))
	eventually(t, 15*time.Second, "rtt measured", func() bool { return a.met.LastRTT(b.ID()) > 0 })
	if ps := a.Peers(); len(ps) != 1 || ps[0].RTT <= 0 {
		t.Fatalf("Peers does not report the RTT: %+v", ps)
	}
}
