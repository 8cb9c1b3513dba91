package p2p

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestDecodersEnforceBounds: every variable-length field is refused past
// its bound, and every truncation names the missing field.
func TestDecodersEnforceBounds(t *testing.T) {
	longID := newBody(kindHello, 0)
	longID.bytes(bytes.Repeat([]byte{'c'}, maxContractIDLen+1))
	longReason := newBody(kindRefuse, 0)
	longReason.u8(1)
	longReason.bytes(bytes.Repeat([]byte{'r'}, maxReasonLen+1))
	manyRecs := newBody(kindPeers, 0)
	manyRecs.u16(maxRecordsPerMsg + 1)
	longAddr := newBody(kindPeers, 0)
	longAddr.u16(1)
	longAddr.fixed(make([]byte, 32))
	longAddr.bytes(bytes.Repeat([]byte{'a'}, maxAddrLen+1))
	bigReq := newBody(kindRequest, 0)
	bigReq.u8(40)
	bigReq.u32(1)
	bigReq.bytes(make([]byte, 1<<16+1))
	bigApp := encodeApp(KindProposal, make([]byte, 1<<16+1))
	hugeLen := newBody(KindProposal, 0)
	hugeLen.fixed([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}) // uvarint 2^64-1
	trailing := append((&ping{Nonce: 1}).encode(kindPing), 0)
	badVersion := (&ping{Nonce: 1}).encode(kindPing)
	badVersion[0] = 2

	cases := []struct {
		name, want string
		body       []byte
	}{
		{"contract id", "hello.contract_id: length 129 exceeds bound 128", longID.b},
		{"refuse reason", "refuse.reason: length 257", longReason.b},
		{"records per message", "peers.count: 257 exceeds bound 256", manyRecs.b},
		{"record address", "record.addr: length 301", longAddr.b},
		{"request body", "request.body: length 65537", bigReq.b},
		{"app payload", "app.payload: length 65537", bigApp},
		{"uvarint overflow", "app.payload: length 18446744073709551615", hugeLen.b},
		{"truncated hello", "hello.contract_id: missing", newBody(kindHello, 0).b},
		{"trailing bytes", "1 trailing bytes", trailing},
		{"version", "version 2, want 1", badVersion},
		{"empty", "version: missing", nil},
	}
	for _, c := range cases {
		err := decodeAny(c.body)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrMalformed naming %q", c.name, err, c.want)
		}
	}
}

func TestNPLRoundTripRequiresEveryField(t *testing.T) {
	m, err := SignNPL(detKey(1), testContract, LedgerID{Seq: 3, Hash: [32]byte{4}}, []byte("d"))
	if err != nil {
		t.Fatal(err)
	}
	enc := m.Encode()
	got, err := DecodeNPL(enc)
	if err != nil || got.Ledger != m.Ledger || got.Signer != m.Signer || got.Sig != m.Sig || string(got.Data) != "d" {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	for cut := 0; cut < len(enc); cut++ {
		if _, err := DecodeNPL(enc[:cut]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("NPL cut at %d decoded: %v", cut, err)
		}
	}
	if _, err := SignNPL(detKey(1), testContract, LedgerID{}, make([]byte, MaxNPLData+1)); !errors.Is(err, ErrBadNPL) {
		t.Fatalf("oversized NPL signed: %v", err)
	}
}
