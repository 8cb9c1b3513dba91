package statesync

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hpfs/hpnode/merkle"
)

func h(b byte) merkle.Hash { var x merkle.Hash; x[0] = b; x[31] = b; return x }

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{Kind: ProofRange, Root: h(1), Start: merkle.Key{}},
		{Kind: ProofRange, Root: h(1), Start: merkle.Key("a\x00"), End: merkle.Key("b\x00"), MaxEntries: 7, MaxBytes: 1 << 20, Hints: 9},
		{Kind: ProofChange, Root: h(2), Base: h(3), Start: merkle.Key("x"), End: merkle.Key("x"), Hints: MaxHints},
	} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Request
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip: got %+v, want %+v", got, r)
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, r := range []Response{
		{Status: StatusOK, Kind: ProofRange, Proof: []byte{1, 2, 3}},
		{Status: StatusOK, Kind: ProofChange, Proof: []byte{}, Hints: []merkle.Key{merkle.Key("a\x00"), merkle.Key{}}, Totals: Totals{Entries: 5, Bytes: 1 << 40}},
		{Status: StatusNack},
		{Status: StatusNack, Roots: []merkle.Hash{h(1), h(2)}},
		{Status: StatusError, Code: CodeBusy, Message: "busy"},
	} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Response
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if r.Proof == nil && got.Proof != nil && len(got.Proof) == 0 {
			got.Proof = nil
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip: got %+v, want %+v", got, r)
		}
	}
}

func TestRequestRejectsBadInput(t *testing.T) {
	good := Request{Kind: ProofChange, Root: h(1), Base: h(2), Start: merkle.Key("a"), End: merkle.Key("b")}
	enc, err := good.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), enc...)) }
	cases := map[string][]byte{
		"empty":           nil,
		"wrong version":   mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"unknown kind":    mutate(func(b []byte) []byte { b[1] = 9; return b }),
		"truncated":       enc[:len(enc)-1],
		"trailing byte":   append(append([]byte(nil), enc...), 0),
		"bad end flag":    mutate(func(b []byte) []byte { b[2+64+2+1] = 7; return b }),
		"key too long":    mutate(func(b []byte) []byte { b[2+64] = 0xff; b[2+64+1] = 0xff; return b }),
		"start after end": mutate(func(b []byte) []byte { b[2+64+2] = 'z'; return b }),
		"too many hints":  mutate(func(b []byte) []byte { b[len(b)-1] = MaxHints + 1; return b }),
		"max bytes over bound": mutate(func(b []byte) []byte {
			copy(b[len(b)-5:], []byte{0xff, 0xff, 0xff, 0xff})
			return b
		}),
	}
	for name, b := range cases {
		var r Request
		if err := r.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
	for name, r := range map[string]Request{
		"range with base":     {Kind: ProofRange, Root: h(1), Base: h(2), Start: merkle.Key{}},
		"change without base": {Kind: ProofChange, Root: h(1), Start: merkle.Key{}},
		"nil start":           {Kind: ProofRange, Root: h(1)},
		"huge key":            {Kind: ProofRange, Root: h(1), Start: make(merkle.Key, MaxKeyLen+1)},
	} {
		if _, err := r.MarshalBinary(); !errors.Is(err, ErrMalformed) {
			t.Errorf("marshal %s: err %v, want ErrMalformed", name, err)
		}
	}
}

func TestResponseRejectsBadInput(t *testing.T) {
	ok, _ := (&Response{Status: StatusOK, Kind: ProofRange, Proof: []byte("pp"), Hints: []merkle.Key{merkle.Key("k")}}).MarshalBinary()
	cases := map[string][]byte{
		"empty":            nil,
		"wrong version":    {9, 0},
		"unknown status":   {WireVersion, 7},
		"unknown kind":     {WireVersion, 0, 9, 0, 0, 0, 0, 0},
		"proof over bound": {WireVersion, 0, 1, 0xff, 0xff, 0xff, 0xff},
		"truncated proof":  {WireVersion, 0, 1, 0, 0, 0, 5, 1},
		"truncated ok":     ok[:len(ok)-1],
		"trailing":         append(append([]byte(nil), ok...), 1),
		"too many hints":   append([]byte{WireVersion, 0, 1, 0, 0, 0, 0}, MaxHints+1),
		"too many roots":   {WireVersion, 1, MaxNackRoots + 1},
		"truncated root":   {WireVersion, 1, 1, 5},
		"long message":     {WireVersion, 2, 1, 0xff, 0xff},
	}
	for name, b := range cases {
		var r Response
		if err := r.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

func TestResponseMarshalTruncatesLongMessage(t *testing.T) {
	b, err := (&Response{Status: StatusError, Code: CodeInternal, Message: strings.Repeat("x", 1000)}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r Response
	if err := r.UnmarshalBinary(b); err != nil || len(r.Message) != MaxMessageLen {
		t.Fatalf("message of %d bytes, err %v", len(r.Message), err)
	}
}

func FuzzRequestDecode(f *testing.F) {
	for _, r := range []Request{
		{Kind: ProofRange, Root: h(1), Start: merkle.Key{}},
		{Kind: ProofChange, Root: h(2), Base: h(3), Start: merkle.Key("a\x00"), End: merkle.Key("b\x00"), MaxEntries: 1, MaxBytes: 2, Hints: 3},
	} {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if err := r.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Whatever decodes is valid and re-encodes to the same bytes: one encoding per request.
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", out, b)
		}
	})
}

func FuzzResponseDecode(f *testing.F) {
	for _, r := range []Response{
		{Status: StatusOK, Kind: ProofRange, Proof: []byte{1, 2}, Hints: []merkle.Key{merkle.Key("a\x00")}, Totals: Totals{1, 2}},
		{Status: StatusNack, Roots: []merkle.Hash{h(1)}},
		{Status: StatusError, Code: CodeBusy, Message: "busy"},
	} {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Response
		if err := r.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded response does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", out, b)
		}
	})
}

// TestResponseMarshalInPlace: a response whose proof lies in a buffer with room is encoded
// around it, to the same bytes as the copying encoding, with the proof not copied; a buffer
// without the room, or that does not hold the proof, falls back to the copy.
func TestResponseMarshalInPlace(t *testing.T) {
	proof := bytes.Repeat([]byte{0xab}, 5000)
	hints := []merkle.Key{merkle.Key("a/b"), merkle.Key("c")}
	want, err := (&Response{Status: StatusOK, Kind: ProofChange, Proof: proof, Hints: hints, Totals: Totals{3, 4}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		head, tail   int
		inPlace      bool
		otherBacking bool
	}{
		{"exact head room", ResponseHeadroom, ResponseTailroom, true, false},
		{"more head room", ResponseHeadroom + 9, ResponseTailroom, true, false},
		{"no tail room", ResponseHeadroom, 0, false, false},
		{"too little head room", ResponseHeadroom - 1, ResponseTailroom, false, false},
		{"proof elsewhere", ResponseHeadroom, ResponseTailroom, false, true},
	} {
		buf := make([]byte, c.head+len(proof), c.head+len(proof)+c.tail)
		copy(buf[c.head:], proof)
		p := buf[c.head:]
		if c.otherBacking {
			p = bytes.Clone(p)
		}
		r := Response{Status: StatusOK, Kind: ProofChange, Proof: p, Hints: hints, Totals: Totals{3, 4}, buf: buf}
		got, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: encoding differs from the copying one (%v)", c.name, err)
		}
		if aliased := &got[ResponseHeadroom] == &buf[c.head]; aliased != c.inPlace {
			t.Fatalf("%s: encoded in place %v, want %v", c.name, aliased, c.inPlace)
		}
	}
	bad := Response{Status: StatusOK, Kind: 9, Proof: proof, buf: append(make([]byte, ResponseHeadroom), proof...)}
	bad.Proof = bad.buf[ResponseHeadroom:]
	if _, err := bad.MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad kind in place: %v, want ErrMalformed", err)
	}
}
