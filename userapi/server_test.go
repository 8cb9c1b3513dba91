package userapi

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var protocols = []Protocol{JSON, BSON}

// parseTree turns a decoded hash_tree (hex strings, nulls, lists) into a TreeElem.
func parseTree(t testing.TB, v any) TreeElem {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return TreeElem{Self: true}
	case string:
		var h Hash
		b, err := hex.DecodeString(x)
		if err != nil || len(b) != 32 {
			t.Fatalf("tree leaf %q is not a hash", x)
		}
		copy(h[:], b)
		return TreeElem{Hash: h}
	case []any:
		e := TreeElem{IsList: true}
		for _, c := range x {
			e.List = append(e.List, parseTree(t, c))
		}
		return e
	}
	t.Fatalf("tree element of type %T", v)
	return TreeElem{}
}

func hexHash(t testing.TB, v any) Hash {
	t.Helper()
	s, _ := v.(string)
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("%v is not a hex hash", v)
	}
	return Hash(b)
}

// verifyOutput checks a received contract_output exactly as verifyContractOutputTrust does and
// returns its outputs.
func verifyOutput(t testing.TB, tc *testClient, m map[string]any, trusted []ed25519.PublicKey) []string {
	t.Helper()
	var outputs [][]byte
	var strs []string
	for _, o := range m["outputs"].([]any) {
		s := o.(string)
		if tc.proto == BSON {
			b, _ := hex.DecodeString(s)
			s = string(b)
		}
		outputs = append(outputs, []byte(s))
		strs = append(strs, s)
	}
	var sigs []OutputSig
	for _, p := range m["unl_sig"].([]any) {
		pair := p.([]any)
		k, err := ParseHexKey(pair[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := hex.DecodeString(pair[1].(string))
		sigs = append(sigs, OutputSig{Signer: k, Sig: sig})
	}
	_, err := VerifyOutputTrust(tc.key.Public().(ed25519.PublicKey), outputs, hexHash(t, m["output_hash"]), parseTree(t, m["hash_tree"]), sigs, trusted)
	if err != nil {
		t.Fatalf("output does not verify: %v", err)
	}
	return strs
}

func TestInputAcceptedAndOutputVerifies(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) {
			b := newTestBackend(3)
			ts := startServer(t, b, nil)
			tc := connect(t, ts.url, userKey(1), proto)
			if len(tc.unl) != 3 || tc.node != HexKey(b.unlKeys()[0]) {
				t.Fatalf("handshake unl %v node %s", tc.unl, tc.node)
			}
			// Other users' outputs must share the round's tree.
			others := make([]*testClient, 20)
			for i := range others {
				others[i] = connect(t, ts.url, userKey(100+i), proto)
			}
			msg, hash := tc.inputMsg("hello", 1, 5)
			tc.sendMsg(msg)
			for i, o := range others {
				m, _ := o.inputMsg(fmt.Sprintf("other %d", i), 7, 5)
				o.sendMsg(m)
			}
			waitPending(t, b, 21)
			l := b.closeLedger()

			st := tc.recvType("contract_input_status")
			if st["status"] != "accepted" || st["input_hash"] != hash.String() ||
				st["ledger_seq_no"] != float64(1) || st["ledger_hash"] != l.Hash.String() {
				t.Fatalf("status %v", st)
			}
			out := tc.recvType("contract_output")
			if got := verifyOutput(t, tc, out, b.unlKeys()); len(got) != 1 || got[0] != "echo:hello" {
				t.Fatalf("outputs %q", got)
			}
			if out["ledger_seq_no"] != float64(1) || out["ledger_hash"] != l.Hash.String() {
				t.Fatalf("output ledger %v %v", out["ledger_seq_no"], out["ledger_hash"])
			}
			for _, o := range others {
				o.recvType("contract_input_status")
				verifyOutput(t, o, o.recvType("contract_output"), b.unlKeys())
			}
		})
	}
}

// waitPending waits until the backend holds n queued inputs.
func waitPending(t testing.TB, b *testBackend, n int) {
	t.Helper()
	for i := 0; ; i++ {
		b.mu.Lock()
		got := len(b.pending)
		b.mu.Unlock()
		if got >= n {
			return
		}
		if i > 3000 {
			t.Fatalf("%d inputs pending, want %d", got, n)
		}
		sleepMs(10)
	}
}

var _ = bson.D{}
