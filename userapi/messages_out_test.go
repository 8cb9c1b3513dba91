package userapi

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/hpfs/hpnode/outtree"
)

func mustJSON(t *testing.T, d doc) string {
	t.Helper()
	b, err := encode(JSON, d)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	return string(b)
}

func h32(c byte) Hash {
	var h Hash
	for i := range h {
		h[i] = c
	}
	return h
}

// TestJSONMessagesMatchHotPocketExactly pins key names, key order, and hex/number/string choices
// of every server message against HotPocket's usrmsg_json.cpp (reference §3.4).
func TestJSONMessagesMatchHotPocketExactly(t *testing.T) {
	ha, hb := h32(0xaa), h32(0xbb)
	hexA, hexB := strings.Repeat("aa", 32), strings.Repeat("bb", 32)
	k := ed25519.PublicKey(make([]byte, 32))
	hexK := "ed" + strings.Repeat("00", 32)
	cases := []struct {
		name string
		got  doc
		want string
	}{
		{"user_challenge", userChallengeMsg("0.6.4", "cid", "1.0", "ch"),
			`{"hp_version":"0.6.4","type":"user_challenge","contract_id":"cid","contract_version":"1.0","challenge":"ch"}`},
		{"server_challenge_response", serverChallengeResponseMsg([]byte{1, 2}, k, []ed25519.PublicKey{k}),
			`{"type":"server_challenge_response","sig":"0102","pubkey":"` + hexK + `","unl":["` + hexK + `"]}`},
		{"accepted", inputStatusMsg(ha, true, "", LedgerID{Seq: 7, Hash: hb}),
			`{"type":"contract_input_status","status":"accepted","input_hash":"` + hexA + `","ledger_seq_no":7,"ledger_hash":"` + hexB + `"}`},
		{"rejected", inputStatusMsg(ha, false, ReasonNonceExpired, LedgerID{}),
			`{"type":"contract_input_status","status":"rejected","reason":"nonce_expired","input_hash":"` + hexA + `"}`},
		{"rejected without hash", rejectedNoHash(ReasonBadMsgFormat),
			`{"type":"contract_input_status","status":"rejected","reason":"bad_msg_format","input_hash":""}`},
		{"stat_response", statResponseMsg(Stat{HPVersion: "0.6.4", LCL: LedgerID{Seq: 3, Hash: ha}, VoteStatus: "synced", RoundTime: 1000,
			ContractExecutionEnabled: true, ReadRequestsEnabled: true, CurrentUNL: []ed25519.PublicKey{k}, Peers: []string{"1.2.3.4:22860"}}),
			`{"type":"stat_response","hp_version":"0.6.4","ledger_seq_no":3,"ledger_hash":"` + hexA + `","vote_status":"synced","round_time":1000,` +
				`"contract_execution_enabled":true,"read_requests_enabled":true,"is_full_history_node":false,"weakly_connected":false,` +
				`"current_unl":["` + hexK + `"],"peers":["1.2.3.4:22860"]}`},
		{"lcl_response", lclResponseMsg(LedgerID{Seq: 9, Hash: ha}),
			`{"type":"lcl_response","ledger_seq_no":9,"ledger_hash":"` + hexA + `"}`},
		{"read response, JSON content embedded", readResponseMsg("r1", []byte(`{"a":[1,2]}`)),
			`{"type":"contract_read_response","reply_for":"r1","content":{"a":[1,2]}}`},
		{"read response, text escaped", readResponseMsg("r1", []byte("he said \"hi\"\n")),
			`{"type":"contract_read_response","reply_for":"r1","content":"he said \"hi\"\n"}`},
		{"read response, JSON-shaped but invalid escaped", readResponseMsg("r1", []byte(`{oops}`)),
			`{"type":"contract_read_response","reply_for":"r1","content":"{oops}"}`},
		{"unl_change", unlChangeMsg([]ed25519.PublicKey{k}),
			`{"type":"unl_change","unl":["` + hexK + `"]}`},
		{"vote_status", voteStatusMsg("desync"),
			`{"type":"ledger_event","event":"vote_status","vote_status":"desync"}`},
		{"ledger_created", ledgerCreatedMsg(&Ledger{Seq: 2, Timestamp: 5, Hash: ha, PrevHash: hb, Inputs: []LedgerInput{{}}, HasInputs: true}),
			`{"type":"ledger_event","event":"ledger_created","ledger":{"seq_no":2,"timestamp":5,"hash":"` + hexA + `","prev_hash":"` + hexB + `",` +
				`"state_hash":"` + strings.Repeat("00", 32) + `","config_hash":"` + strings.Repeat("00", 32) + `","user_hash":"` + strings.Repeat("00", 32) +
				`","input_hash":"` + strings.Repeat("00", 32) + `","output_hash":"` + strings.Repeat("00", 32) + `"}}`},
		{"ledger query failed", ledgerQueryResultMsg("q", nil, true, false),
			`{"type":"ledger_query_result","reply_for":"q","error":"exec_failure","results":[]}`},
		{"ledger query not found", ledgerQueryResultMsg("q", nil, false, false),
			`{"type":"ledger_query_result","reply_for":"q","error":null,"results":[]}`},
	}
	for _, c := range cases {
		if got := mustJSON(t, c.got); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestJSONContractOutputIsVerifiableText(t *testing.T) {
	user := userKey(1).Public().(ed25519.PublicKey)
	outs := [][]byte{[]byte(`"quoted"`), []byte(`{"a":1}`), []byte("plain")}
	uh := outtree.UserHash(user, outs)
	tree := outtree.New([]Hash{uh}, h32(0xcc))
	c, _ := tree.Collapse(uh)
	sig := SignOutputRoot(userKey(2), tree.Root())
	got := mustJSON(t, contractOutputMsg(LedgerID{Seq: 4, Hash: h32(0xaa)}, outs, uh, c, []OutputSig{sig}, false))
	var m struct {
		Type     string     `json:"type"`
		Outputs  []string   `json:"outputs"`
		HashTree []any      `json:"hash_tree"`
		UNLSig   [][]string `json:"unl_sig"`
	}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	// Every output arrives as a string holding exactly the contract's bytes, so the client's
	// blake3 over the strings equals the output hash the UNL signed.
	for i, o := range m.Outputs {
		if o != string(outs[i]) {
			t.Fatalf("output %d is %q, want %q", i, o, outs[i])
		}
	}
	if len(m.HashTree) != 2 || m.HashTree[0] != nil || m.HashTree[1] != strings.Repeat("cc", 32) {
		t.Fatalf("hash_tree %v", m.HashTree)
	}
	if len(m.UNLSig) != 1 || m.UNLSig[0][0] != HexKey(sig.Signer) {
		t.Fatalf("unl_sig %v", m.UNLSig)
	}
	want := `{"type":"contract_output","ledger_seq_no":4,"ledger_hash":"` + strings.Repeat("aa", 32) + `","outputs":["\"quoted\"","{\"a\":1}","plain"],"output_hash":"`
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got %s", got)
	}
	// With RawJSONOutputs, HotPocket's raw embedding.
	raw := mustJSON(t, contractOutputMsg(LedgerID{}, outs, uh, c, nil, true))
	if !strings.Contains(raw, `"outputs":["quoted",{"a":1},"plain"]`) {
		t.Fatalf("raw outputs: %s", raw)
	}
}

// TestBSONMessagesUseBinaryInt64AndNull pins the BSON encodings the client relies on: byte fields
// as binary, numbers as int64, the user's own tree leaf as null.
func TestBSONMessagesUseBinaryInt64AndNull(t *testing.T) {
	user := userKey(1).Public().(ed25519.PublicKey)
	outs := [][]byte{{0, 1, 0xff}}
	uh := outtree.UserHash(user, outs)
	tree := outtree.New(append(userHashes(20), uh), h32(0xcc))
	c, _ := tree.Collapse(uh)
	b, err := encode(BSON, contractOutputMsg(LedgerID{Seq: 4, Hash: h32(0xaa)}, outs, uh, c, []OutputSig{SignOutputRoot(userKey(2), tree.Root())}, false))
	if err != nil {
		t.Fatal(err)
	}
	r := bson.Raw(b)
	check := func(path []string, want bson.Type) bson.RawValue {
		t.Helper()
		v, err := r.LookupErr(path...)
		if err != nil || v.Type != want {
			t.Fatalf("%v: type %v, want %v (%v)", path, v.Type, want, err)
		}
		return v
	}
	check([]string{"type"}, bson.TypeString)
	check([]string{"ledger_seq_no"}, bson.TypeInt64)
	check([]string{"ledger_hash"}, bson.TypeBinary)
	check([]string{"outputs", "0"}, bson.TypeBinary)
	if _, data := check([]string{"outputs", "0"}, bson.TypeBinary).Binary(); string(data) != string(outs[0]) {
		t.Fatal("output bytes altered")
	}
	check([]string{"output_hash"}, bson.TypeBinary)
	check([]string{"unl_sig", "0", "0"}, bson.TypeBinary)
	check([]string{"unl_sig", "0", "1"}, bson.TypeBinary)
	// 22 leaves: [[16 leaves], [user..., state]] or similar; find the null somewhere.
	if !strings.Contains(r.Lookup("hash_tree").String(), "null") {
		t.Fatalf("hash_tree without a null: %s", r.Lookup("hash_tree"))
	}
	st, _ := encode(BSON, statResponseMsg(Stat{RoundTime: 1000, CurrentUNL: []ed25519.PublicKey{user}}))
	if v := bson.Raw(st).Lookup("round_time"); v.Type != bson.TypeInt64 || v.Int64() != 1000 {
		t.Fatalf("round_time %v", v)
	}
	if v := bson.Raw(st).Lookup("current_unl", "0"); v.Type != bson.TypeBinary {
		t.Fatalf("current_unl entry %v", v.Type)
	}
	if _, d := bson.Raw(st).Lookup("current_unl", "0").Binary(); len(d) != 33 || d[0] != KeyPrefix {
		t.Fatal("UNL keys in BSON must be the 33-byte prefixed form")
	}
}

func TestJSONStringEscaping(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x01\x1f\x7f", "tab\tnl\ncr\r", "ünïcødé ✓ 🎉", "\u2028"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("%q encoded as %s decodes to %q (%v)", s, b, got, err)
		}
	}
	var got string
	if err := json.Unmarshal(appendJSONString(nil, "a\xffb"), &got); err != nil || got != "a\ufffdb" {
		t.Errorf("invalid UTF-8: %q, %v", got, err)
	}
}

func TestLooksLikeJSON(t *testing.T) {
	for s, want := range map[string]bool{
		`"x"`: true, `{"a":1}`: true, `[1]`: true, `true`: true, `false`: true, `123`: true, `1.5`: true,
		``: false, `"`: false, `{oops}`: false, `1.2.3`: false, `0123`: false, `null`: false, `abc`: false, `-1`: false,
	} {
		if got := looksLikeJSON([]byte(s)); got != want {
			t.Errorf("looksLikeJSON(%q) = %v", s, got)
		}
	}
}
