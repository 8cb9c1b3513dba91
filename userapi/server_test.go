package userapi

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/hpfs/hpnode/outtree"
)

var protocols = []Protocol{JSON, BSON}

// parseTree turns a decoded hash_tree (hex strings, nulls, lists) into a outtree.Elem.
func parseTree(t testing.TB, v any) outtree.Elem {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return outtree.Elem{Self: true}
	case string:
		var h Hash
		b, err := hex.DecodeString(x)
		if err != nil || len(b) != 32 {
			t.Fatalf("tree leaf %q is not a hash", x)
		}
		copy(h[:], b)
		return outtree.Elem{Hash: h}
	case []any:
		e := outtree.Elem{IsList: true}
		for _, c := range x {
			e.List = append(e.List, parseTree(t, c))
		}
		return e
	}
	t.Fatalf("tree element of type %T", v)
	return outtree.Elem{}
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

func TestStatLCLAndSubscriptions(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) {
			b := newTestBackend(3)
			ts := startServer(t, b, nil)
			tc := connect(t, ts.url, userKey(1), proto)
			l := b.closeLedger()
			tc.sendMsg(bson.D{{Key: "type", Value: "lcl"}})
			if m := tc.recvType("lcl_response"); m["ledger_seq_no"] != float64(1) || m["ledger_hash"] != l.Hash.String() {
				t.Fatalf("lcl_response %v", m)
			}
			tc.sendMsg(bson.D{{Key: "type", Value: "stat"}})
			st := tc.recvType("stat_response")
			unl := st["current_unl"].([]any)
			if st["hp_version"] != DefaultHPVersion || st["round_time"] != float64(1000) || st["vote_status"] != "synced" ||
				len(unl) != 3 || unl[0] != HexKey(sortedKeys(b.unlKeys())[0]) || len(st["peers"].([]any)) != 2 {
				t.Fatalf("stat_response %v", st)
			}
			// Not subscribed: no ledger events. Subscribed: the next ledger arrives as an event.
			tc.sendMsg(bson.D{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "ledger_event"}, {Key: "enabled", Value: true}})
			tc.sendMsg(bson.D{{Key: "type", Value: "lcl"}})
			tc.recvType("lcl_response")
			l2 := b.closeLedger()
			b.emit(&VoteStatusChanged{VoteStatus: "desync"})
			ev := tc.recv()
			ledger, _ := ev["ledger"].(map[string]any)
			if ev["type"] != "ledger_event" || ev["event"] != "ledger_created" || ledger["seq_no"] != float64(2) ||
				ledger["hash"] != l2.Hash.String() || ledger["prev_hash"] != l.Hash.String() || ledger["inputs"] != nil {
				t.Fatalf("ledger event %v", ev)
			}
			if ev := tc.recv(); ev["event"] != "vote_status" || ev["vote_status"] != "desync" {
				t.Fatalf("vote status event %v", ev)
			}
			tc.sendMsg(bson.D{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "ledger_event"}, {Key: "enabled", Value: false}})
			tc.sendMsg(bson.D{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "unl_change"}, {Key: "enabled", Value: true}})
			tc.sendMsg(bson.D{{Key: "type", Value: "lcl"}})
			tc.recvType("lcl_response")
			b.closeLedger()
			b.changeUNL(b.unl[:2])
			if m := tc.recv(); m["type"] != "unl_change" || len(m["unl"].([]any)) != 2 {
				t.Fatalf("after unsubscribing ledger events: %v", m)
			}
		})
	}
}

func TestLedgerQuery(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) {
			b := newTestBackend(3)
			ts := startServer(t, b, nil)
			tc := connect(t, ts.url, userKey(1), proto)
			msg, h := tc.inputMsg("kept", 3, 5)
			tc.sendMsg(msg)
			waitPending(t, b, 1)
			l := b.closeLedger()
			query := func(id string, seq int64, include ...any) map[string]any {
				tc.sendMsg(bson.D{{Key: "type", Value: "ledger_query"}, {Key: "id", Value: id}, {Key: "filter_by", Value: "seq_no"},
					{Key: "params", Value: bson.D{{Key: "seq_no", Value: seq}}}, {Key: "include", Value: append(bson.A{}, include...)}})
				m := tc.recvType("ledger_query_result")
				if m["reply_for"] != id {
					t.Fatalf("reply_for %v, want %s", m["reply_for"], id)
				}
				return m
			}
			m := query("q1", 1, "inputs", "outputs")
			res := m["results"].([]any)
			if m["error"] != nil || len(res) != 1 {
				t.Fatalf("result %v", m)
			}
			r := res[0].(map[string]any)
			ins, outs := r["inputs"].([]any), r["outputs"].([]any)
			if r["hash"] != l.Hash.String() || len(ins) != 1 || len(outs) != 1 {
				t.Fatalf("ledger %v", r)
			}
			in := ins[0].(map[string]any)
			blob := in["blob"].(string)
			if proto == BSON {
				blob = string(mustHex(t, blob))
			}
			if in["hash"] != h.String() || in["nonce"] != float64(3) || blob != "kept" || in["pubkey"] != HexKey(tc.key.Public().(ed25519.PublicKey)) {
				t.Fatalf("input %v", in)
			}
			if bl := outs[0].(map[string]any)["blobs"].([]any); len(bl) != 1 {
				t.Fatalf("output blobs %v", bl)
			}
			// Only what is asked for; an empty include gives the header alone.
			if r := query("q2", 1)["results"].([]any)[0].(map[string]any); r["inputs"] != nil || r["outputs"] != nil {
				t.Fatalf("header-only query returned %v", r)
			}
			if r := query("q3", 0, "inputs")["results"].([]any)[0].(map[string]any); r["seq_no"] != float64(0) || len(r["inputs"].([]any)) != 0 {
				t.Fatalf("genesis %v", r)
			}
			if m := query("q4", 99); m["error"] != nil || len(m["results"].([]any)) != 0 {
				t.Fatalf("missing ledger %v", m)
			}
			b.queryErr = errTest
			if m := query("q5", 1); m["error"] != "exec_failure" || len(m["results"].([]any)) != 0 {
				t.Fatalf("failed query %v", m)
			}
		})
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadRequests(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) {
			b := newTestBackend(3)
			ts := startServer(t, b, func(c *Config) { c.ConcurrentReads = 2 })
			tc := connect(t, ts.url, userKey(1), proto)
			// More requests than read slots: all are answered.
			for i := 0; i < 10; i++ {
				content := any(fmt.Sprintf("q%d", i))
				if proto == BSON {
					content = []byte(fmt.Sprintf("q%d", i))
				}
				tc.sendMsg(bson.D{{Key: "type", Value: "contract_read_request"}, {Key: "id", Value: fmt.Sprint(i)}, {Key: "content", Value: content}})
			}
			got := map[string]string{}
			for len(got) < 10 {
				m := tc.recvType("contract_read_response")
				c := m["content"].(string)
				if proto == BSON {
					c = string(mustHex(t, c))
				}
				got[m["reply_for"].(string)] = c
			}
			for i := 0; i < 10; i++ {
				if got[fmt.Sprint(i)] != fmt.Sprintf("read:q%d", i) {
					t.Fatalf("replies %v", got)
				}
			}
		})
	}
}

// TestEventsDuringConnectionChurn: the Backend emits statuses, outputs and ledger events without
// pause while users connect, subscribe and disconnect; nothing races, blocks or panics, and a
// user that stays connected receives every ledger event, in order.
func TestEventsDuringConnectionChurn(t *testing.T) {
	b := newTestBackend(3)
	ts := startServer(t, b, nil)
	stayer := connect(t, ts.url, userKey(1), BSON)
	stayer.sendMsg(bson.D{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "ledger_event"}, {Key: "enabled", Value: true}})
	stillServes(t, stayer)

	seqs := make(chan float64, 1<<16)
	readErr := make(chan error, 1)
	go func() {
		for {
			m, err := stayer.tryRecv(30 * time.Second)
			if err != nil {
				readErr <- err
				return
			}
			if m["type"] == "ledger_event" {
				seqs <- m["ledger"].(map[string]any)["seq_no"].(float64)
			}
		}
	}()
	stop := make(chan struct{})
	emitted := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				emitted <- n
				return
			default:
			}
			b.closeLedger()
			n++
			time.Sleep(time.Millisecond)
		}
	}()
	for i := 0; i < 30; i++ {
		tc := connect(t, ts.url, userKey(300+i%5), Protocol(1+i%2))
		tc.sendMsg(bson.D{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "ledger_event"}, {Key: "enabled", Value: true}})
		msg, _ := tc.inputMsg("churn", uint64(1+i), 1<<40)
		tc.sendMsg(msg)
		if i%2 == 0 {
			_ = tc.c.CloseNow()
		} else {
			_ = tc.c.Close(websocket.StatusNormalClosure, "")
		}
	}
	close(stop)
	n := <-emitted
	for seq := 1; seq <= n; seq++ {
		select {
		case got := <-seqs:
			if got != float64(seq) {
				t.Fatalf("ledger event %v, want seq %d", got, seq)
			}
		case err := <-readErr:
			t.Fatalf("after %d of %d ledger events: %v", seq-1, n, err)
		}
	}
}

// TestBadRoundOutputsAreDropped: a Backend bug (no tree, a user whose outputs are not in the
// tree) is logged and dropped, never a crash, and later outputs still flow.
func TestBadRoundOutputsAreDropped(t *testing.T) {
	b := newTestBackend(3)
	ts := startServer(t, b, nil)
	tc := connect(t, ts.url, userKey(1), JSON)
	user := tc.key.Public().(ed25519.PublicKey)
	b.emit(&RoundOutputs{Users: []outtree.UserOutputs{{User: user, Outputs: [][]byte{[]byte("x")}}}})
	b.emit(&RoundOutputs{Tree: outtree.New([]Hash{{1}}, Hash{2}), Users: []outtree.UserOutputs{{User: user, Outputs: [][]byte{[]byte("x")}}}})
	msg, _ := tc.inputMsg("real", 1, 5)
	tc.sendMsg(msg)
	waitPending(t, b, 1)
	b.closeLedger()
	out := tc.recvType("contract_output")
	if got := verifyOutput(t, tc, out, b.unlKeys()); len(got) != 1 || got[0] != "echo:real" {
		t.Fatalf("outputs %q", got)
	}
}
