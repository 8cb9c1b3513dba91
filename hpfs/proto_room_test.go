package hpfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/hpfs/hpnode/merkle"
)

// TestReadFrameRoom: the body lands in a buffer with the asked room before it and spare
// capacity after it; truncated and oversized frames fail as with ReadFrame.
func TestReadFrameRoom(t *testing.T) {
	var frame bytes.Buffer
	if err := writeFrame(&frame, []byte("hel"), []byte("lo")); err != nil {
		t.Fatal(err)
	}
	buf, body, err := readFrameRoom(bytes.NewReader(frame.Bytes()), 7, 100, 100)
	if err != nil || string(body) != "hello" {
		t.Fatalf("readFrameRoom = %q, %v", body, err)
	}
	if off := cap(buf) - cap(body); off != 7 || &buf[off] != &body[0] || cap(body)-len(body) < 100 {
		t.Fatalf("body at offset %d of the buffer with %d spare bytes, want 7 and ≥ 100", off, cap(body)-len(body))
	}
	f := frame.Bytes()
	for n := 1; n < len(f); n++ {
		if _, _, err := readFrameRoom(bytes.NewReader(f[:n]), 7, 100, 100); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("frame truncated to %d bytes: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
	if _, _, err := readFrameRoom(bytes.NewReader(f), 7, 100, 4); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame over the limit: %v, want ErrFrameTooLarge", err)
	}
}

// TestProtoClientProofIn: a proof read with room is the proof ProofRange builds, lies in Buf
// with at least the asked room around it, and errors keep their sentinels.
func TestProtoClientProofIn(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	pc := NewProtoClient(serveSocket(t, d))
	defer pc.Close()
	bg := context.Background()
	head := d.Store().Head().Root

	want, wantEnd, err := d.ProofRange(head, merkle.Key{}, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, p ProofIn) {
		t.Helper()
		if !bytes.Equal(p.Proof, want) || !bytes.Equal(p.End, wantEnd) {
			t.Fatalf("%s: proof differs from ProofRange's", what)
		}
		off := cap(p.Buf) - cap(p.Proof)
		if off < 7 || &p.Buf[off] != &p.Proof[0] || cap(p.Proof)-len(p.Proof) < 64 {
			t.Fatalf("%s: proof at offset %d with %d spare bytes, want ≥ 7 and ≥ 64", what, off, cap(p.Proof)-len(p.Proof))
		}
	}
	p, err := pc.RangeProofIn(bg, head, merkle.Key{}, nil, 0, 0, 7, 64)
	if err != nil {
		t.Fatal(err)
	}
	check("range", p)
	// The base is not kept: the daemon falls back to the same range proof, as a change proof.
	c, err := pc.ChangeProofIn(bg, testHash(3), head, merkle.Key{}, nil, 0, 0, 7, 64)
	if err != nil || !c.Fallback {
		t.Fatalf("change proof from an unknown base: fallback %v, %v", c.Fallback, err)
	}
	var cp merkle.ChangeProof
	if err := cp.UnmarshalBinary(c.Proof); err != nil || !cp.Fallback {
		t.Fatalf("fallback change proof does not decode: %v", err)
	}
	if _, err := pc.RangeProofIn(bg, testHash(1), merkle.Key{}, nil, 0, 0, 7, 64); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("unknown root: %v, want ErrUnknownVersion", err)
	}
	if _, err := pc.RangeProofIn(bg, head, merkle.Key{}, nil, 0, 0, -1, 0); err == nil {
		t.Fatal("negative room accepted")
	}
}

// TestBinaryProofsOnOneConnection: consecutive proofs on one connection (which reuses its leaf
// arena from proof to proof) are each exactly the proof ProofRange and ProofChange build.
func TestBinaryProofsOnOneConnection(t *testing.T) {
	d, v1, v2 := syncSource(t, 40)
	pc := NewProtoClient(serveSocket(t, d))
	defer pc.Close()
	bg := context.Background()

	starts, want := rangeProofs(t, d, v1)
	if len(starts) < 3 {
		t.Fatalf("%d proofs: the test needs several", len(starts))
	}
	for round := range 2 {
		for i, start := range starts {
			got, _, err := pc.RangeProof(bg, v1, start, nil, 9, 20_000)
			if err != nil || !bytes.Equal(got, want[i]) {
				t.Fatalf("round %d, range proof %d differs from ProofRange's (%v)", round, i, err)
			}
			wantC, _, _, err := d.ProofChange(v1, v2, start, nil, 9, 20_000)
			if err != nil {
				t.Fatal(err)
			}
			gotC, _, _, err := pc.ChangeProof(bg, v1, v2, start, nil, 9, 20_000)
			if err != nil || !bytes.Equal(gotC, wantC) {
				t.Fatalf("round %d, change proof %d differs from ProofChange's (%v)", round, i, err)
			}
		}
	}
}

// FuzzReadFrameRoom: any input gives frames within the limit, each with its room, or an error.
func FuzzReadFrameRoom(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 'h', 'i'})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			buf, body, err := readFrameRoom(r, 7, 16, 1<<10)
			if err != nil {
				return
			}
			if len(body) > 1<<10 || cap(buf)-cap(body) != 7 || cap(body)-len(body) < 16 {
				t.Fatalf("body of %d bytes at offset %d with %d spare", len(body), cap(buf)-cap(body), cap(body)-len(body))
			}
		}
	})
}
