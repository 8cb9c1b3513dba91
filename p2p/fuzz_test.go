package p2p

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"
)

// detKey is a fixed key: fuzz workers rebuild the seeds in their own
// process, so anything a seed is compared against must be deterministic.
func detKey(i byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = i
	return ed25519.NewKeyFromSeed(seed)
}

// decodeAny runs the decoder of whatever kind body claims to be.
func decodeAny(body []byte) error {
	k, d, err := splitBody(body)
	if err != nil {
		return err
	}
	switch k {
	case kindHello:
		_, err = decodeHello(d)
	case kindAuth:
		_, err = decodeAuth(d)
	case kindRefuse:
		_, err = decodeRefuse(d)
	case kindPeers:
		_, err = decodePeers(d)
	case kindPing, kindPong:
		_, err = decodePing(d)
	case kindRequest:
		_, err = decodeRequest(d, 1<<16)
	case kindResponse:
		_, err = decodeResponseHeader(d)
	default:
		_, err = decodeApp(k, d, 1<<16)
	}
	return err
}

func seedBodies(t testing.TB) [][]byte {
	key := detKey(3)
	rec, err := SignRecord(key, testContract, "127.0.0.1:5000", time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	h := hello{ContractID: testContract, Key: idOf(t, key), UnixMilli: 7}
	a := auth{}
	r := refuse{Code: RefuseCapacity, Reason: "full"}
	pm := peersMsg{Records: []PeerRecord{rec}}
	pg := ping{Nonce: 3}
	rq := request{Kind: 40, TimeoutMs: 10, Body: []byte("x")}
	rh := responseHeader{Status: respOK, Length: 5}
	return [][]byte{h.encode(), a.encode(), r.encode(), pm.encode(), pg.encode(kindPing), rq.encode(), rh.encode(), encodeApp(KindProposal, []byte("p"))}
}

// FuzzDecodeBody: no body, however malformed, panics a decoder, and
// whatever decodes re-encodes to a body that decodes again.
func FuzzDecodeBody(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if decodeAny(body) != nil {
			return
		}
		k, d, _ := splitBody(body)
		var re []byte
		switch k {
		case kindHello:
			m, _ := decodeHello(d)
			re = m.encode()
		case kindPeers:
			m, _ := decodePeers(d)
			re = m.encode()
		case kindRequest:
			m, _ := decodeRequest(d, 1<<16)
			re = m.encode()
		default:
			return
		}
		// Uvarint lengths may be non-minimal in the input; compare after a
		// second round, which must be a fixed point.
		if decodeAny(re) != nil {
			t.Fatalf("re-encoded body does not decode: %x", re)
		}
	})
}

// FuzzReadFrame: a frame reader never allocates past its bound or panics.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		body, err := readFrame(bytes.NewReader(in), 1024)
		if err == nil && len(body) > 1024 {
			t.Fatalf("frame of %d bytes past bound", len(body))
		}
	})
}

// FuzzRecord: decoding and verifying arbitrary records never panics, and
// no mutation of a valid record still verifies.
func FuzzRecord(f *testing.F) {
	key := detKey(1)
	now := time.Unix(1_800_000_000, 0)
	rec, err := SignRecord(key, testContract, "10.0.0.1:22860", now)
	if err != nil {
		f.Fatal(err)
	}
	valid := EncodeRecord(rec)
	f.Add(valid)
	f.Add(valid[:40])
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeRecord(in)
		if err != nil {
			return
		}
		err = r.Verify(testContract, now, time.Hour, time.Minute)
		if err == nil && !bytes.Equal(EncodeRecord(r), valid) {
			t.Fatalf("a record other than the signed one verifies: %+v", r)
		}
	})
}

// FuzzNPL: decoding and verifying arbitrary NPL payloads never panics, and
// nothing but the signed message verifies.
func FuzzNPL(f *testing.F) {
	key := detKey(1)
	m, err := SignNPL(key, testContract, LedgerID{Seq: 5, Hash: [32]byte{1}}, []byte("data"))
	if err != nil {
		f.Fatal(err)
	}
	valid := m.Encode()
	f.Add(valid)
	f.Add(valid[:70])
	v := nplVerifier(testContract)
	f.Fuzz(func(t *testing.T, in []byte) {
		signer, err := v(in)
		if err != nil {
			return
		}
		if !signer.Equal(ed25519.PublicKey(m.Signer[:])) {
			t.Fatal("verified under another key")
		}
		got, _ := DecodeNPL(in)
		if got.Ledger != m.Ledger || !bytes.Equal(got.Data, m.Data) {
			t.Fatalf("altered NPL verifies: %+v", got)
		}
	})
}

// FuzzPeersFile: a corrupt known-peer file is an error, never a panic.
func FuzzPeersFile(f *testing.F) {
	key := detKey(1)
	rec, err := SignRecord(key, testContract, "10.0.0.1:22860", time.Unix(1_800_000_000, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodePeersFile([]PeerRecord{rec, rec}))
	f.Add(peersMagic)
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, err := decodePeersFile(in)
		if err == nil && len(recs) > maxKnownPeers {
			t.Fatalf("%d records past bound", len(recs))
		}
	})
}

// FuzzVerifyPeerCert: arbitrary certificate bytes are rejected cleanly;
// only a self-signed Ed25519 certificate passes.
func FuzzVerifyPeerCert(f *testing.F) {
	c, err := selfSignedCert(detKey(2))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.Certificate[0])
	f.Fuzz(func(t *testing.T, in []byte) {
		verifyPeerCert([][]byte{in}, nil)
	})
}

// FuzzHandshakeAuth: no auth body verifies against a fresh transcript
// except one signed for it.
func FuzzHandshakeAuth(f *testing.F) {
	key := detKey(1)
	id := idOf(f, key)
	msg := handshakeMessage(testContract, roleDialer, [32]byte{1}, [32]byte{2}, id, PeerID{3}, make([]byte, 32))
	var a auth
	copy(a.Sig[:], ed25519.Sign(key, msg))
	f.Add(a.encode())
	f.Fuzz(func(t *testing.T, body []byte) {
		k, d, err := splitBody(body)
		if err != nil || k != kindAuth {
			return
		}
		got, err := decodeAuth(d)
		if err != nil {
			return
		}
		if verify(id, msg, got.Sig[:]) && got.Sig != a.Sig {
			t.Fatal("a different signature verifies")
		}
	})
}

func TestRecordRoundTripAndRejections(t *testing.T) {
	key := newKey(t)
	now := time.Unix(1_800_000_000, 0)
	rec, err := SignRecord(key, testContract, "10.0.0.1:22860", now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRecord(EncodeRecord(rec))
	if err != nil || got != rec {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	if err := got.Verify(testContract, now, time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	cases := map[string]error{
		"other contract": got.Verify("other", now, time.Hour, time.Minute),
		"expired":        got.Verify(testContract, now.Add(2*time.Hour), time.Hour, time.Minute),
		"future":         got.Verify(testContract, now.Add(-time.Hour), 2*time.Hour, time.Minute),
	}
	moved := got
	moved.Addr = "10.0.0.2:22860"
	cases["moved address"] = moved.Verify(testContract, now, time.Hour, time.Minute)
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, err := SignRecord(key, testContract, "no-port", now); err == nil {
		t.Fatal("record without port signed")
	}
}
