package hpfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

func testHash(b byte) merkle.Hash {
	var h merkle.Hash
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

func validRequests() []FrameRequest {
	return []FrameRequest{
		{Op: FrameRangeProof, Root: testHash(1), Start: merkle.Key{}, MaxEntries: 7, MaxBytes: 1 << 20},
		{Op: FrameRangeProof, Root: testHash(1), Start: merkle.Key("a\x00"), End: merkle.Key("b\x00")},
		{Op: FrameChangeProof, Base: testHash(2), Root: testHash(3), Start: merkle.Key{}, End: merkle.Key{}},
		{Op: FrameApplyProof, Kind: KindRange, Root: testHash(4), Start: merkle.Key("x\x00"), Proof: []byte{1, 2, 3}},
		{Op: FrameApplyProof, Kind: KindChange, Base: testHash(5), Root: testHash(6), Start: merkle.Key{}, End: merkle.Key("z\x00"), Proof: []byte("proof")},
		{Op: FrameSyncBegin, Root: testHash(7), Start: merkle.Key{}},
		{Op: FrameRangeProof, Root: testHash(1), Start: merkle.Key{}, End: merkle.Key("b\x00"), Shared: true, SharedOff: 7},
		{Op: FrameApplyProof, Kind: KindRange, Root: testHash(4), Start: merkle.Key{}, Shared: true, SharedOff: 9, SharedLen: 1 << 20},
		{Op: FrameShare, Start: merkle.Key{}, MaxBytes: DefaultSharedBytes},
	}
}

func TestFrameRequestRoundTrip(t *testing.T) {
	for _, q := range validRequests() {
		b, err := q.MarshalBinary()
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		var got FrameRequest
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if !reflect.DeepEqual(got, q) {
			t.Fatalf("round trip: got %+v, want %+v", got, q)
		}
	}
}

func validResponses() map[FrameOp][]FrameResponse {
	return map[FrameOp][]FrameResponse{
		FrameRangeProof: {
			{Proof: []byte("proof"), End: merkle.Key("k\x00")},
			{Proof: []byte("proof")},
			{Status: StatusUnknownVersion, Message: "no such root"},
		},
		FrameChangeProof: {
			{Proof: []byte("p"), Fallback: true, End: merkle.Key{}},
			{Fallback: true, End: merkle.Key("e\x00"), Shared: true, SharedLen: 12345},
		},
		FrameShare: {
			{SharedLen: DefaultSharedBytes},
			{Status: StatusError, Message: "no memfd"},
		},
		FrameApplyProof: {
			{Sync: SyncStatus{Remaining: []merkle.KeyRange{{Start: merkle.Key{}, End: merkle.Key("a\x00")},
				{Start: merkle.Key("b\x00"), Base: testHash(9)}}, Proved: &Proved{End: merkle.Key("a\x00"), Entries: 3, Bytes: 99}}},
			{Sync: SyncStatus{Done: true, Version: Version{Seq: 4, Root: testHash(8), Time: time.Unix(5, 6).UTC()},
				Proved: &Proved{Complete: true, Entries: 1}}},
			{Status: StatusProofRejected, Message: "bad"},
		},
		FrameSyncBegin: {
			{Sync: SyncStatus{Remaining: []merkle.KeyRange{{Start: merkle.Key{}, Base: testHash(1)}}}},
			{Sync: SyncStatus{Done: true, Version: Version{Seq: 1, Root: testHash(2), Time: time.Unix(7, 0).UTC()}}},
		},
	}
}

func TestFrameResponseRoundTrip(t *testing.T) {
	for op, resps := range validResponses() {
		for _, p := range resps {
			b, err := p.MarshalBinary(op)
			if err != nil {
				t.Fatalf("%s %+v: %v", op, p, err)
			}
			var got FrameResponse
			if err := got.UnmarshalBinary(op, b); err != nil {
				t.Fatalf("%s %+v: %v", op, p, err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Fatalf("%s round trip: got %+v, want %+v", op, got, p)
			}
		}
	}
}

// TestFrameRequestRejectsMalformed: every malformed body gets ErrMalformedFrame, never a panic.
func TestFrameRequestRejectsMalformed(t *testing.T) {
	good, err := validRequests()[1].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":               {},
		"unknown op":          mutate(func(b []byte) []byte { b[0] = 99; return b }),
		"op zero":             mutate(func(b []byte) []byte { b[0] = 0; return b }),
		"kind on range-proof": mutate(func(b []byte) []byte { b[1] = 1; return b }),
		"unknown flags":       mutate(func(b []byte) []byte { b[2] |= 0x80; return b }),
		"truncated hashes":    good[:40],
		"truncated limits":    good[:3+64+5],
		"truncated start":     good[:3+64+8+4+1],
		"start too long": mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[3+64+8:], MaxFrameKeyLen+1)
			return b
		}),
		"end length past the body": mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[len(b)-4-2:], 1000)
			return b
		}),
		"proof on range-proof": append(append([]byte(nil), good...), 1, 2, 3),
	}
	apply, err := validRequests()[3].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), apply...)
	bad[1] = 3
	cases["apply of unknown kind"] = bad
	for name, b := range cases {
		var q FrameRequest
		if err := q.UnmarshalBinary(b); !errors.Is(err, ErrMalformedFrame) {
			t.Errorf("%s: %v, want ErrMalformedFrame", name, err)
		}
	}
	// Every strict prefix of the fields before the proof is refused.
	for n := range len(good) {
		var q FrameRequest
		if err := q.UnmarshalBinary(good[:n]); err == nil {
			t.Fatalf("prefix of %d of %d bytes accepted", n, len(good))
		}
	}
}

func TestFrameResponseRejectsMalformed(t *testing.T) {
	done, err := (&FrameResponse{Sync: SyncStatus{Done: true, Proved: &Proved{}}}).MarshalBinary(FrameApplyProof)
	if err != nil {
		t.Fatal(err)
	}
	notDone, err := (&FrameResponse{Sync: SyncStatus{Remaining: []merkle.KeyRange{{Start: merkle.Key{}, Base: testHash(1)}}}}).MarshalBinary(FrameSyncBegin)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		op   FrameOp
		b    []byte
	}{
		{"empty", FrameRangeProof, nil},
		{"unknown status", FrameRangeProof, []byte{99, 'x'}},
		{"unknown proof flags", FrameRangeProof, []byte{0, 0x10}},
		{"fallback range proof", FrameRangeProof, []byte{0, flagFallback}},
		{"truncated end", FrameChangeProof, []byte{0, flagEnd, 0, 0, 0, 9, 'a'}},
		{"unknown op", FrameOp(42), []byte{0}},
		{"done byte 2", FrameSyncBegin, []byte{0, 2}},
		{"trailing bytes", FrameApplyProof, append(append([]byte(nil), done...), 0)},
		{"truncated status", FrameApplyProof, done[:len(done)-1]},
		{"apply without its proof summary", FrameApplyProof, done[:1+1+8+32+8]},
		{"nothing remains but not done", FrameSyncBegin, []byte{0, 0, 0, 0, 0, 0}},
		{"range count past the body", FrameSyncBegin, []byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0}},
		{"zero base", FrameSyncBegin, append(append([]byte(nil), notDone[:len(notDone)-32]...), make([]byte, 32)...)},
		{"unknown range flags", FrameSyncBegin, func() []byte {
			b := append([]byte(nil), notDone...)
			b[6] |= 0x40
			return b
		}()},
	}
	for _, c := range cases {
		var p FrameResponse
		if err := p.UnmarshalBinary(c.op, c.b); !errors.Is(err, ErrMalformedFrame) {
			t.Errorf("%s: %v, want ErrMalformedFrame", c.name, err)
		}
	}
}

func TestReadFrame(t *testing.T) {
	frame := func(body []byte) []byte {
		var buf bytes.Buffer
		if err := writeFrame(&buf, body[:len(body)/2], body[len(body)/2:]); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	two := append(frame([]byte("hello")), frame([]byte("world!"))...)
	r := bytes.NewReader(two)
	for _, want := range []string{"hello", "world!"} {
		got, err := ReadFrame(r, 100)
		if err != nil || string(got) != want {
			t.Fatalf("ReadFrame = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ReadFrame(r, 100); err != io.EOF {
		t.Fatalf("at the end between frames: %v, want io.EOF", err)
	}
	f := frame([]byte("hello"))
	for n := 1; n < len(f); n++ {
		if _, err := ReadFrame(bytes.NewReader(f[:n]), 100); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("frame truncated to %d bytes: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
	if _, err := ReadFrame(bytes.NewReader(f), 4); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame over the limit: %v, want ErrFrameTooLarge", err)
	}
	huge := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	if _, err := ReadFrame(bytes.NewReader(huge), MaxFrameBytes); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("4 GiB length: %v, want ErrFrameTooLarge", err)
	}
}

func TestCheckPreamble(t *testing.T) {
	if err := checkPreamble(FramePreamble(FrameVersion)); err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{FramePreamble(FrameVersion + 1), FramePreamble(0), []byte("HPFSBOX\x01"), []byte("HPFS")} {
		if err := checkPreamble(b); !errors.Is(err, ErrFrameVersion) {
			t.Errorf("%q: %v, want ErrFrameVersion", b, err)
		}
	}
}

func FuzzFrameRequest(f *testing.F) {
	for _, q := range validRequests() {
		b, err := q.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var q FrameRequest
		if err := q.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("error without ErrMalformedFrame: %v", err)
			}
			return
		}
		// Whatever decodes encodes back to an equal request.
		enc, err := q.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode %+v: %v", q, err)
		}
		var again FrameRequest
		if err := again.UnmarshalBinary(enc); err != nil || !reflect.DeepEqual(again, q) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, q)
		}
	})
}

func FuzzFrameResponse(f *testing.F) {
	for op, resps := range validResponses() {
		for _, p := range resps {
			b, err := p.MarshalBinary(op)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(op), b)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, b []byte) {
		var p FrameResponse
		if err := p.UnmarshalBinary(FrameOp(op), b); err != nil {
			if !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("error without ErrMalformedFrame: %v", err)
			}
			return
		}
		if p.Status != StatusOK {
			if p.Err() == nil {
				t.Fatalf("status %d without an error", p.Status)
			}
			return
		}
		enc, err := p.MarshalBinary(FrameOp(op))
		if err != nil {
			t.Fatalf("re-encode %+v: %v", p, err)
		}
		var again FrameResponse
		if err := again.UnmarshalBinary(FrameOp(op), enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(again.Proof, p.Proof) || !reflect.DeepEqual(again.Sync.Remaining, p.Sync.Remaining) ||
			again.Sync.Done != p.Sync.Done || !reflect.DeepEqual(again.Sync.Proved, p.Sync.Proved) {
			t.Fatalf("round trip: %+v, want %+v", again, p)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 'h', 'i'})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			body, err := ReadFrame(r, 1<<10)
			if err != nil {
				return
			}
			if len(body) > 1<<10 {
				t.Fatalf("body of %d bytes over the limit", len(body))
			}
		}
	})
}
