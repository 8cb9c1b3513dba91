package p2p

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// stillServes proves victim keeps serving honest peers after an attack: a
// fresh node connects and exchanges a message with it.
func stillServes(t *testing.T, victim *testNode) {
	t.Helper()
	got := make(chan []byte, 1)
	victim.Handle(KindUserInputs, func(_ PeerID, _ Kind, p []byte) {
		select {
		case got <- p:
		default:
		}
	})
	c := connectPair(t, victim, fastConfig(newKey(t)))
	if err := c.Send(victim.ID(), KindUserInputs, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if string(p) != "still here" {
			t.Fatalf("got %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("victim stopped serving honest peers")
	}
}

func TestWrongContractRefusedWithReason(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	r := dialRaw(t, a.Addr(), newKey(t))
	_, _, err := r.handshake("another-contract", nil)
	re := wantRefusal(t, err, RefuseContractMismatch)
	if !strings.Contains(re.Reason, "another-contract") {
		t.Fatalf("reason %q does not name the contract", re.Reason)
	}

	// A real node of another contract is refused and backs off, and logs why.
	cfg := fastConfig(newKey(t))
	cfg.ContractID = "another-contract"
	cfg.Bootstrap = []string{a.Addr().String()}
	b := startNode(t, cfg)
	eventually(t, 20*time.Second, "refusal logged", func() bool { return b.logs.count("contract id mismatch") > 0 })
	if a.Connected(b.ID()) || b.Connected(a.ID()) {
		t.Fatal("nodes of different contracts connected")
	}
	stillServes(t, a)
}

func TestBadHandshakeSignatureRefused(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	r := dialRaw(t, a.Addr(), newKey(t))
	if _, _, err := r.handshake(testContract, func(x *auth) { x.Sig[7] ^= 1 }); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, r.waitClosed(5*time.Second), RefuseBadHandshake)
	if a.Connected(r.id) {
		t.Fatal("peer with a bad signature was admitted")
	}
	stillServes(t, a)
}

// TestReplayedHandshakeRefused: a proof recorded on one connection is
// worthless on the next, even from the same key.
func TestReplayedHandshakeRefused(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	key := newKey(t)
	r1 := dialRaw(t, a.Addr(), key)
	old, _, err := r1.handshake(testContract, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "honest session admitted", func() bool { return a.Connected(r1.id) })
	r2 := dialRaw(t, a.Addr(), key)
	if _, _, err := r2.handshake(testContract, func(x *auth) { *x = old }); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, r2.waitClosed(5*time.Second), RefuseBadHandshake)
}

func TestHelloKeyMustMatchCertificate(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	r := dialRaw(t, a.Addr(), newKey(t))
	h := hello{ContractID: testContract, Key: idOf(t, newKey(t))}
	if err := r.writeBody(h.encode()); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.read()
	wantRefusal(t, err, RefuseBadHandshake)
}

func TestGarbageBeforeHandshakeClosesConnection(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	r := dialRaw(t, a.Addr(), newKey(t))
	junk := make([]byte, 300)
	rand.Read(junk)
	binary.BigEndian.PutUint32(junk, 200) // plausible length, nonsense body
	if err := r.write(junk); err != nil {
		t.Fatal(err)
	}
	if err := r.waitClosed(5 * time.Second); err == nil || strings.Contains(err.Error(), "still open") {
		t.Fatalf("garbage did not close the connection: %v", err)
	}
	eventually(t, 15*time.Second, "failure logged", func() bool { return a.logs.count("inbound handshake failed") > 0 })
	stillServes(t, a)
}

func TestHelloWithMissingFieldsClosesConnection(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	r := dialRaw(t, a.Addr(), newKey(t))
	e := newBody(kindHello, 0)
	e.bytes([]byte(testContract)) // no key, challenge or time
	if err := r.writeBody(e.b); err != nil {
		t.Fatal(err)
	}
	if err := r.waitClosed(5 * time.Second); err == nil || strings.Contains(err.Error(), "still open") {
		t.Fatalf("truncated hello did not close the connection: %v", err)
	}
	eventually(t, 15*time.Second, "missing field named in log", func() bool { return a.logs.count("hello.key: missing") > 0 })
}

func TestOversizedFrameBeforeHandshakeClosesConnection(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	r := dialRaw(t, a.Addr(), newKey(t))
	if err := r.write(binary.BigEndian.AppendUint32(nil, 1<<30)); err != nil {
		t.Fatal(err)
	}
	if err := r.waitClosed(5 * time.Second); err == nil || strings.Contains(err.Error(), "still open") {
		t.Fatalf("oversized frame did not close the connection: %v", err)
	}
	eventually(t, 15*time.Second, "logged", func() bool { return a.logs.count("frame too large") > 0 })
}

// admittedRaw returns a raw peer that completed the handshake with a.
func admittedRaw(t *testing.T, a *testNode) *rawPeer {
	t.Helper()
	r := dialRaw(t, a.Addr(), newKey(t))
	r.str.SetDeadline(time.Time{})
	if _, _, err := r.handshake(testContract, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "raw peer admitted", func() bool { return a.Connected(r.id) })
	return r
}

func TestOversizedFrameAfterHandshakeDropsPeer(t *testing.T) {
	cfg := fastConfig(newKey(t))
	cfg.MaxMessageSize = 64 << 10
	a := startNode(t, cfg)
	r := admittedRaw(t, a)
	if err := r.write(binary.BigEndian.AppendUint32(nil, 1<<20)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "peer dropped", func() bool { return !a.Connected(r.id) })
	if a.met.Drops("bad") == 0 {
		t.Fatal("oversized frame not counted as bad")
	}
	stillServes(t, a)
}

// TestMissingFieldsCountedBadNotFatal: a well-framed message with missing
// fields is dropped and counted; below the bad-message rate the peer stays.
func TestMissingFieldsCountedBadNotFatal(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	r := admittedRaw(t, a)
	e := newBody(kindPeers, 0)
	e.u16(2) // two records announced, none present
	if err := r.writeBody(e.b); err != nil {
		t.Fatal(err)
	}
	npl := newBody(KindNPL, 0)
	npl.bytes(make([]byte, 40)) // an NPL payload cut short
	ms := r.msgStream()
	if _, err := ms.Write(appendFrame(nil, npl.b)); err != nil {
		t.Fatal(err)
	}
	// A valid message on the wrong stream is bad too.
	m, err := SignNPL(r.key, testContract, LedgerID{Seq: 1}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.writeBody(encodeApp(KindNPL, m.Encode())); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "three counted bad", func() bool { return a.met.Drops("bad") == 3 })
	time.Sleep(100 * time.Millisecond)
	if !a.Connected(r.id) {
		t.Fatal("peer dropped for three bad messages under the limit")
	}
	for _, want := range []string{"record.key: missing", "npl.ledger.hash: missing", "wrong stream"} {
		if a.logs.count(want) == 0 {
			t.Errorf("no log line naming %q", want)
		}
	}
}

func TestBadMessageFloodCutsOffPeer(t *testing.T) {
	cfg := fastConfig(newKey(t))
	cfg.BadPerMinute = 5
	a := startNode(t, cfg)
	r := admittedRaw(t, a)
	for i := 0; i < 50; i++ {
		junk := newBody(Kind(3+i%2), 0) // refuse/peers with no fields
		if r.writeBody(junk.b) != nil {
			break
		}
	}
	eventually(t, 15*time.Second, "peer cut off", func() bool { return !a.Connected(r.id) })
	time.Sleep(100 * time.Millisecond)
	if n := a.logs.count("p2p: peer cut off"); n != 1 {
		t.Fatalf("cut-off logged %d times, want once", n)
	}
	if !strings.Contains(a.logs.String(), "bad messages/min") {
		t.Fatal("cut-off line does not say why")
	}
	// The banned key is refused while the ban lasts.
	r2 := dialRaw(t, a.Addr(), r.key)
	_, _, err := r2.handshake(testContract, nil)
	wantRefusal(t, err, RefuseCutOff)
	stillServes(t, a)
}

func TestByteFloodCutsOffPeer(t *testing.T) {
	cfg := fastConfig(newKey(t))
	cfg.BytesPerMinute = 256 << 10
	a := startNode(t, cfg)
	a.Handle(KindProposal, func(PeerID, Kind, []byte) {})
	b := connectPair(t, a, fastConfig(newKey(t)))
	payload := make([]byte, 8<<10)
	for i := 0; i < 200 && b.Connected(a.ID()); i++ {
		b.Send(a.ID(), KindProposal, payload)
		time.Sleep(time.Millisecond)
	}
	eventually(t, 20*time.Second, "flooder cut off", func() bool { return !a.Connected(b.ID()) })
	time.Sleep(100 * time.Millisecond)
	if n := a.logs.count("p2p: peer cut off"); n != 1 {
		t.Fatalf("cut-off logged %d times, want once", n)
	}
	if !strings.Contains(a.logs.String(), "bytes/min") {
		t.Fatal("cut-off line does not say why")
	}
	stillServes(t, a)
}

// TestHandshakeFailureFloodCutsOffHost: a host that keeps failing
// handshakes (no key to blame yet) is refused before TLS for CutOff, while
// other hosts are still served.
func TestHandshakeFailureFloodCutsOffHost(t *testing.T) {
	cfg := fastConfig(newKey(t))
	cfg.BadPerMinute = 3
	a := startNode(t, cfg)
	for i := 0; i < 6; i++ {
		r := dialRawMaybe(t, a.Addr(), newKey(t))
		if r == nil {
			break // already refused before TLS
		}
		r.write([]byte("garbage garbage garbage"))
		r.waitClosed(5 * time.Second)
	}
	eventually(t, 15*time.Second, "host cut off", func() bool { return a.logs.count("p2p: host cut off") == 1 })
	if r := dialRawMaybe(t, a.Addr(), newKey(t)); r != nil {
		t.Fatal("cut-off host completed a QUIC handshake")
	}
	// Another host (127.0.0.2 is loopback too) is unaffected.
	bcfg := fastConfig(newKey(t))
	bcfg.ListenAddr = "127.0.0.2:0"
	connectPair(t, a, bcfg)
}

// TestBadMessageStreamHeaderDropsPeer: a message stream that does not start
// with its header frame closes the connection.
func TestBadMessageStreamHeaderDropsPeer(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	r := admittedRaw(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := r.conn.OpenUniStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(appendFrame(nil, encodeApp(KindProposal, []byte("no header first"))))
	eventually(t, 15*time.Second, "peer dropped", func() bool { return !a.Connected(r.id) })
	if a.met.Drops("bad") != 1 {
		t.Fatalf("bad drops %d, want 1", a.met.Drops("bad"))
	}
	stillServes(t, a)
}
