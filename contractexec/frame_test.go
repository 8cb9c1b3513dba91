package contractexec

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func encodeFrames(msgs [][]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
		b = append(b, m...)
	}
	return b
}

// TestFrameDecoderAnySplit is the reassembly property: however the stream is cut into reads
// (inside headers included), the decoder yields the same frames.
func TestFrameDecoderAnySplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 500 {
		var msgs [][]byte
		for range rng.IntN(8) {
			m := make([]byte, rng.IntN(300))
			for i := range m {
				m[i] = byte(rng.IntN(256))
			}
			msgs = append(msgs, m)
		}
		stream := encodeFrames(msgs)
		var d frameDecoder
		for p := stream; len(p) > 0; {
			n := 1 + rng.IntN(min(len(p), 7))
			d.Write(p[:n])
			p = p[n:]
		}
		if d.incomplete() != nil || len(d.frames) != len(msgs) {
			t.Fatalf("iter %d: %d frames, want %d, incomplete %v", iter, len(d.frames), len(msgs), d.incomplete())
		}
		for i := range msgs {
			if !bytes.Equal(d.frames[i], msgs[i]) {
				t.Fatalf("iter %d frame %d differs", iter, i)
			}
		}
	}
}

func TestFrameDecoderIncomplete(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte{0, 0}, "broken frame: stream ended 2 bytes into a 4-byte length header"},
		{[]byte{0, 0, 0, 3, 'a'}, "broken frame: stream ended after 1 of 3 payload bytes"},
		{[]byte{0, 0, 0, 0}, ""}, // an empty frame is a frame
	} {
		var d frameDecoder
		d.Write(tc.in)
		got := ""
		if err := d.incomplete(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%v: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzFrameDecoder checks that arbitrary streams, split anywhere, decode the same as in one piece,
// never panic, and never allocate more than the bytes that arrived plus one bounded prealloc.
func FuzzFrameDecoder(f *testing.F) {
	f.Add(encodeFrames([][]byte{[]byte("a"), nil, []byte("hello")}), uint8(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1}, uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		var whole, split frameDecoder
		whole.Write(stream)
		step := int(cut%16) + 1
		for p := stream; len(p) > 0; {
			n := min(step, len(p))
			split.Write(p[:n])
			p = p[n:]
		}
		if len(whole.frames) != len(split.frames) || (whole.incomplete() == nil) != (split.incomplete() == nil) {
			t.Fatalf("split decode differs: %d vs %d frames", len(whole.frames), len(split.frames))
		}
		total := 0
		for i := range whole.frames {
			if !bytes.Equal(whole.frames[i], split.frames[i]) {
				t.Fatalf("frame %d differs", i)
			}
			total += 4 + len(whole.frames[i])
		}
		if total > len(stream) || cap(whole.cur) > len(stream)+maxFramePrealloc {
			t.Fatalf("decoded %d bytes from %d, cur cap %d", total, len(stream), cap(whole.cur))
		}
	})
}
