package consensus

import (
	"bytes"
	"errors"
	"testing"
)

func sampleValue() Value {
	return Value{
		Time:   42,
		Users:  []PubKey{{1}, {2}},
		Inputs: []OrderedHash{{0, 1}, {0, 2}},
		Nonces: []Hash{{3}},
		Result: Result{Seq: 7, StateHash: Hash{4}, PatchHash: Hash{5}, OutputHash: Hash{6}, Config: UNLConfig{UNL: []PubKey{{8}, {9}}, Threshold: 80}},
	}
}

func sampleMessages(t testing.TB) []Message {
	s := testKeys(2)
	p := &Proposal{ContractID: "c", Stage: 2, Seq: 3, Round: 1, Prev: Hash{1}, Value: sampleValue()}
	p.Sign(s[0])
	r := &Record{Seq: 3, Prev: Hash{1}, Round: 1, Value: sampleValue()}
	r.Sign("c", s[0])
	r.Sign("c", s[1])
	in := Input{User: PubKey{1}, Nonce: 5, MaxLedgerSeq: 9, Protocol: 1, Container: []byte("data")}
	return []Message{
		{Type: MsgProposal, Proposal: p},
		{Type: MsgInputBatch, Inputs: []Input{in, in}},
		{Type: MsgLedgerRequest, Seq: 77},
		{Type: MsgLedgerResponse, Record: r, Inputs: []Input{in}},
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, m := range sampleMessages(t) {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", m.Type, err)
		}
		again, _ := got.MarshalBinary()
		if !bytes.Equal(b, again) {
			t.Fatalf("%s: re-encoding differs", m.Type)
		}
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	ms := sampleMessages(t)
	prop, _ := ms[0].MarshalBinary()
	rec, _ := ms[3].MarshalBinary()
	v := sampleValue()
	unsorted := v.Clone()
	unsorted.Users[0], unsorted.Users[1] = unsorted.Users[1], unsorted.Users[0]
	ub, _ := unsorted.MarshalBinary()
	dup := v.Clone()
	dup.Inputs[1] = dup.Inputs[0]
	db, _ := dup.MarshalBinary()
	cases := map[string][]byte{
		"empty":                   nil,
		"unknown type":            {99},
		"local type":              {byte(MsgSubmit)},
		"truncated proposal":      prop[:len(prop)-1],
		"trailing byte":           append(append([]byte{}, prop...), 0),
		"truncated record":        rec[:len(rec)/2],
		"huge input count":        {byte(MsgInputBatch), 0xff, 0xff, 0xff, 0xff},
		"count beyond input":      {byte(MsgInputBatch), 0, 0, 0, 9},
		"huge container length":   append([]byte{byte(MsgInputBatch), 0, 0, 0, 1}, append(make([]byte, 49), 0xff, 0xff, 0xff, 0xff)...),
		"unsorted users in value": append([]byte{byte(MsgProposal), 1, 'c', 0}, append(make([]byte, 8+4+32+32), ub...)...),
	}
	for name, b := range cases {
		var m Message
		if err := m.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	var val Value
	if err := val.UnmarshalBinary(db); !errors.Is(err, ErrMalformed) {
		t.Errorf("duplicate inputs: %v", err)
	}
	badStage := append([]byte{}, prop...)
	badStage[3] = 4 // type, len, 'c', stage
	var m Message
	if err := m.UnmarshalBinary(badStage); !errors.Is(err, ErrMalformed) {
		t.Errorf("stage 4: %v", err)
	}
	if _, err := (&Message{Type: MsgExecResult}).MarshalBinary(); !errors.Is(err, ErrLocalMessage) {
		t.Errorf("marshal local message: %v", err)
	}
}

func TestRecordVerification(t *testing.T) {
	s := testKeys(4)
	g := testGenesis(unlOf(s, 80))
	r := Record{Seq: 1, Prev: g.Hash(), Value: Value{Time: g.Value.Time + 1, Result: g.Value.Result}}
	for _, k := range s {
		r.Sign(testCID, k)
	}
	if err := VerifyRecord(testCID, &g, &r); err != nil {
		t.Fatal(err)
	}
	dupVotes := r
	dupVotes.Cert = []Vote{r.Cert[0], r.Cert[0], r.Cert[0], r.Cert[0]}
	if err := VerifyRecord(testCID, &g, &dupVotes); !errors.Is(err, ErrNoQuorum) {
		t.Errorf("four copies of one vote: %v, want ErrNoQuorum", err)
	}
	outsider := r
	outsider.Cert = append([]Vote(nil), r.Cert[:3]...)
	o := Record{Seq: 1, Prev: g.Hash(), Value: r.Value}
	o.Sign(testCID, testKeys(5)[4])
	outsider.Cert = append(outsider.Cert, o.Cert[0])
	if err := VerifyRecord(testCID, &g, &outsider); !errors.Is(err, ErrNoQuorum) {
		t.Errorf("3 members and an outsider: %v, want ErrNoQuorum", err)
	}
	late := r
	late.Value.Time = g.Value.Time
	if err := VerifyRecord(testCID, &g, &late); !errors.Is(err, ErrBrokenChain) {
		t.Errorf("time not after predecessor: %v", err)
	}
	badCfg := r
	badCfg.Value = r.Value.Clone()
	badCfg.Value.Result.Config.Threshold = 40
	if err := VerifyRecord(testCID, &g, &badCfg); !errors.Is(err, ErrConfig) {
		t.Errorf("threshold 40: %v, want ErrConfig", err)
	}
}

func FuzzMessageUnmarshal(f *testing.F) {
	for _, m := range sampleMessages(f) {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{byte(MsgInputBatch), 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		again, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded message does not re-encode to its input: %v", err)
		}
	})
}

func FuzzProposalSigner(f *testing.F) {
	for _, m := range sampleMessages(f) {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ProposalSigner(b)
		if err != nil {
			return
		}
		var m Message
		if m.UnmarshalBinary(b) != nil || m.Proposal == nil || m.Proposal.Verify() != nil || string(k) != string(m.Proposal.Signer[:]) {
			t.Fatal("ProposalSigner accepted a payload that does not verify")
		}
	})
}

func FuzzValueUnmarshal(f *testing.F) {
	v := sampleValue()
	b, _ := v.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var v Value
		if v.UnmarshalBinary(b) != nil {
			return
		}
		again, _ := v.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatal("value encoding is not canonical")
		}
	})
}

// FuzzVerifyRecord mutates a valid certified record: whatever decodes must either fail
// verification or be byte-identical in everything the signatures cover.
func FuzzVerifyRecord(f *testing.F) {
	s := testKeys(3)
	g := testGenesis(unlOf(s, 80))
	r := Record{Seq: 1, Prev: g.Hash(), Value: Value{Time: g.Value.Time + 1, Result: g.Value.Result}}
	for _, k := range s {
		r.Sign(testCID, k)
	}
	good, _ := r.MarshalBinary()
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Record
		if got.UnmarshalBinary(b) != nil {
			return
		}
		if VerifyRecord(testCID, &g, &got) != nil {
			return
		}
		if got.Hash() != r.Hash() || got.Round != r.Round {
			t.Fatal("a record with altered content verified")
		}
	})
}

func TestHardStateRoundTrip(t *testing.T) {
	for _, h := range []HardState{{Seq: 4, Round: 2}, {Seq: 9, Round: 3, Locked: true, LockRound: 1, Lock: sampleValue()}} {
		b, _ := h.MarshalBinary()
		var got HardState
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got.Seq != h.Seq || got.Round != h.Round || got.Locked != h.Locked || got.LockRound != h.LockRound || got.Lock.Hash() != h.Lock.Hash() {
			t.Fatalf("round trip: %+v, want %+v", got, h)
		}
		if err := got.UnmarshalBinary(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated hard state: %v", err)
		}
	}
}

func TestSummaryMatchesRecord(t *testing.T) {
	r := Record{Seq: 3, Prev: Hash{1}, Value: sampleValue()}
	s := r.Summary()
	if s.Hash != r.Hash() || s.SeqNo != 3 || s.PrevHash != r.Prev || s.UserHash != UserHash(r.Value.Users) || s.UserHash.IsZero() {
		t.Fatalf("summary %+v", s)
	}
	empty := Record{Value: Value{}}
	if es := empty.Summary(); !es.UserHash.IsZero() || !es.InputHash.IsZero() {
		t.Fatal("empty user and input lists must hash to zero, as HotPocket's get_list_hash does")
	}
}

func FuzzHardStateUnmarshal(f *testing.F) {
	h := HardState{Seq: 9, Round: 3, Locked: true, LockRound: 1, Lock: sampleValue()}
	b, _ := h.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var h HardState
		if h.UnmarshalBinary(b) != nil {
			return
		}
		again, _ := h.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatal("hard state encoding is not canonical")
		}
	})
}
