package contractexec

import (
	"encoding/binary"
	"fmt"
)

// frameDecoder reassembles the user output stream: frames of a 4-byte big-endian length followed by
// that many payload bytes. Reads may split a frame anywhere, including inside the header, which
// HotPocket's reader does not handle; the decoder carries any partial header or payload over to the
// next Write.
//
// Invariant: when hdrN < 4 the decoder is inside a header and cur is nil; when hdrN == 4 it is inside
// a payload of want bytes of which len(cur) have arrived.
type frameDecoder struct {
	hdr    [4]byte
	hdrN   int
	want   int
	cur    []byte
	frames [][]byte
}

// maxFramePrealloc bounds the buffer allocated up front for a frame: the length header is untrusted
// (a contract may claim 4 GiB and send 10 bytes), so the buffer grows only as bytes arrive.
const maxFramePrealloc = 64 << 10

// Write consumes p, appending every frame it completes to d.frames. It never fails.
func (d *frameDecoder) Write(p []byte) {
	for len(p) > 0 {
		if d.hdrN < 4 {
			n := copy(d.hdr[d.hdrN:], p)
			d.hdrN += n
			p = p[n:]
			if d.hdrN < 4 {
				return
			}
			d.want = int(binary.BigEndian.Uint32(d.hdr[:]))
			d.cur = make([]byte, 0, min(d.want, maxFramePrealloc))
		}
		n := min(d.want-len(d.cur), len(p))
		d.cur = append(d.cur, p[:n]...)
		p = p[n:]
		if len(d.cur) == d.want {
			d.frames = append(d.frames, d.cur)
			d.cur = nil
			d.hdrN = 0
		}
	}
}

// incomplete returns an error describing a frame left unfinished, or nil at a frame boundary.
func (d *frameDecoder) incomplete() error {
	switch {
	case d.hdrN == 0:
		return nil
	case d.hdrN < 4:
		return fmt.Errorf("broken frame: stream ended %d bytes into a 4-byte length header", d.hdrN)
	default:
		return fmt.Errorf("broken frame: stream ended after %d of %d payload bytes", len(d.cur), d.want)
	}
}
