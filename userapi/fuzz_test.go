package userapi

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/hpfs/hpnode/outtree"
)

func bsonSeed(d bson.D) []byte {
	b, err := bson.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

// checkDecoded asserts the decoder's contract: an error is one of the two kinds the session maps
// to a reason, and a success has a known type.
func checkDecoded(t *testing.T, m clientMsg, err error) {
	if err != nil {
		if !errors.Is(err, errBadFormat) && !errors.Is(err, errUnknownType) {
			t.Fatalf("error of unknown kind: %v", err)
		}
		return
	}
	switch m.Type {
	case msgContractInput, msgReadRequest, msgStat, msgLCL, msgSubscription:
	case msgLedgerQuery:
		if m.ID == "" {
			t.Fatal("ledger query without id accepted")
		}
	default:
		t.Fatalf("decoded unknown type %q", m.Type)
	}
}

func FuzzDecodeJSONMsg(f *testing.F) {
	for _, s := range []string{
		`{"type":"stat"}`, `{"type":"lcl"}`, `{"type":"subscription","channel":"unl_change","enabled":true}`,
		`{"type":"contract_input","input_container":"{\"input\":\"x\",\"nonce\":1,\"max_ledger_seq_no\":5}","sig":"00ff"}`,
		`{"type":"contract_read_request","id":"1","content":"q"}`,
		`{"type":"ledger_query","id":"q","filter_by":"seq_no","params":{"seq_no":1},"include":["inputs","outputs"]}`,
		`{"type":"x"}`, `{`, `[]`, `null`, `{"type":"stat"}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeClientMsg(JSON, data)
		checkDecoded(t, m, err)
		if err == nil && m.Type == msgContractInput {
			_, _ = decodeInputContainer(JSON, m.Container)
		}
	})
}

func FuzzDecodeBSONMsg(f *testing.F) {
	f.Add(bsonSeed(bson.D{{Key: "type", Value: "stat"}}))
	f.Add(bsonSeed(bson.D{{Key: "type", Value: "contract_input"}, {Key: "input_container", Value: bsonSeed(bson.D{
		{Key: "input", Value: []byte("x")}, {Key: "nonce", Value: int64(1)}, {Key: "max_ledger_seq_no", Value: int64(5)}})}, {Key: "sig", Value: []byte{1}}}))
	f.Add(bsonSeed(bson.D{{Key: "type", Value: "ledger_query"}, {Key: "id", Value: "q"}, {Key: "filter_by", Value: "seq_no"},
		{Key: "params", Value: bson.D{{Key: "seq_no", Value: int64(1)}}}, {Key: "include", Value: bson.A{"inputs"}}}))
	f.Add(bsonSeed(bson.D{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "ledger_event"}, {Key: "enabled", Value: false}}))
	f.Add(bsonSeed(bson.D{{Key: "type", Value: "contract_read_request"}, {Key: "id", Value: "1"}, {Key: "content", Value: []byte("q")}}))
	f.Add([]byte{5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeClientMsg(BSON, data)
		checkDecoded(t, m, err)
		if err == nil && m.Type == msgContractInput {
			_, _ = decodeInputContainer(BSON, m.Container)
		}
	})
}

func FuzzDecodeInputContainer(f *testing.F) {
	f.Add(false, []byte(`{"input":"x","nonce":1,"max_ledger_seq_no":5}`))
	f.Add(false, []byte(`{"input":"x","nonce":18446744073709551615,"max_ledger_seq_no":5}`))
	f.Add(true, bsonSeed(bson.D{{Key: "input", Value: []byte("x")}, {Key: "nonce", Value: int64(1)}, {Key: "max_ledger_seq_no", Value: int64(5)}}))
	f.Add(true, bsonSeed(bson.D{{Key: "input", Value: "x"}, {Key: "nonce", Value: int32(1)}, {Key: "max_ledger_seq_no", Value: int32(5)}}))
	f.Fuzz(func(t *testing.T, isBSON bool, data []byte) {
		p := JSON
		if isBSON {
			p = BSON
		}
		in, err := decodeInputContainer(p, data)
		if err == nil && in.Nonce == 0 {
			t.Fatal("nonce 0 accepted")
		}
		if err != nil && !errors.Is(err, errBadFormat) {
			t.Fatalf("error of unknown kind: %v", err)
		}
	})
}

func FuzzDecodeUserChallengeResponse(f *testing.F) {
	f.Add([]byte(`{"type":"user_challenge_response","sig":"00","pubkey":"ed00","server_challenge":"ab","protocol":"json"}`))
	f.Add([]byte(`{"type":"user_challenge_response","sig":"00","pubkey":"ed00","protocol":"bson"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeUserChallengeResponse(data)
		if err != nil {
			return
		}
		if r.Protocol != JSON && r.Protocol != BSON {
			t.Fatalf("protocol %v", r.Protocol)
		}
		if k, err := ParseWireKey(r.PubKey); err == nil {
			_ = ed25519.Verify(k, data, r.Sig) // must not panic for any sig length
		}
		_ = validServerChallenge(r.ServerChallenge)
	})
}

// treeFromBytes builds an arbitrary (possibly hostile) collapsed tree from fuzz input:
// 0 = self, 1 = hash, 2 = open list, 3 = close list.
func treeFromBytes(b []byte) outtree.Elem {
	root := outtree.Elem{IsList: true}
	stack := []*outtree.Elem{&root}
	for _, c := range b {
		top := stack[len(stack)-1]
		switch c % 4 {
		case 0:
			top.List = append(top.List, outtree.Elem{Self: true})
		case 1:
			top.List = append(top.List, outtree.Elem{Hash: Hash{c}})
		case 2:
			top.List = append(top.List, outtree.Elem{IsList: true})
			stack = append(stack, &top.List[len(top.List)-1])
		case 3:
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	return root
}

func FuzzFoldTree(f *testing.F) {
	f.Add([]byte{0, 1})
	f.Add([]byte{2, 0, 3, 1})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tree := treeFromBytes(data)
		self := testHash(string(data))
		root, err := outtree.Fold(tree, self)
		if err == nil {
			// Encoding and the client's fold agree: the message a client gets folds the same.
			msg := mustEncodeTree(t, tree)
			var back any
			if err := json.Unmarshal(msg, &back); err != nil {
				t.Fatalf("tree encodes to invalid JSON: %v", err)
			}
			if r2, err := outtree.Fold(parseTree(t, back), self); err != nil || r2 != root {
				t.Fatal("a tree changed by encoding")
			}
		}
		_, _ = VerifyOutputTrust(userKey(1).Public().(ed25519.PublicKey), [][]byte{data}, self, tree, nil, []ed25519.PublicKey{userKey(2).Public().(ed25519.PublicKey)})
	})
}

func mustEncodeTree(t *testing.T, tree outtree.Elem) []byte {
	b, err := encode(JSON, doc{{"t", tree}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m["t"]
}

func FuzzJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("\x00\"\\\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s", s, b)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("%q round-trips to %q", s, got)
		}
		raw := appendJSON(nil, blob{b: []byte(s), raw: true})
		if !json.Valid(raw) {
			t.Fatalf("blob %q encodes to invalid JSON %s", s, raw)
		}
	})
}

// FuzzSessionHandle feeds any post-handshake message to a session's handler, with a real Backend
// behind it: whatever arrives, the handler neither panics nor blocks, and every reply it queues
// encodes to a valid document of the session's protocol.
func FuzzSessionHandle(f *testing.F) {
	f.Add(false, []byte(`{"type":"stat"}`))
	f.Add(false, []byte(`{"type":"ledger_query","id":"q","filter_by":"seq_no","params":{"seq_no":0},"include":["inputs"]}`))
	f.Add(false, []byte(`{"type":"contract_read_request","id":"1","content":"q"}`))
	f.Add(true, bsonSeed(bson.D{{Key: "type", Value: "lcl"}}))
	f.Add(true, bsonSeed(bson.D{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "unl_change"}, {Key: "enabled", Value: true}}))
	b := newTestBackend(3)
	s, err := New(Config{ContractID: "c", ContractVersion: "1", NodeKey: b.unl[0], TLS: selfSignedTLS(f), Logger: discardLogger(),
		MaxBadMsgsPerMin: 1000000}, b)
	if err != nil {
		f.Fatal(err)
	}
	user := userKey(1).Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, isBSON bool, data []byte) {
		ss := &session{s: s, user: user, proto: JSON, out: make(chan any, 64), readSlots: make(chan struct{}, 4)}
		if isBSON {
			ss.proto = BSON
		}
		ss.ctx, ss.cancel = context.WithCancel(context.Background())
		ss.handle(data)
		ss.wg.Wait() // read requests finish: the test backend answers at once
		ss.cancel()
		for len(ss.out) > 0 {
			d, ok := ss.build(<-ss.out)
			if !ok {
				continue
			}
			enc, err := encode(ss.proto, d)
			if err != nil {
				t.Fatal(err)
			}
			if ss.proto == JSON && !json.Valid(enc) {
				t.Fatalf("invalid JSON reply %s", enc)
			}
			if ss.proto == BSON {
				if err := bson.Raw(enc).Validate(); err != nil {
					t.Fatalf("invalid BSON reply: %v", err)
				}
			}
		}
	})
}
