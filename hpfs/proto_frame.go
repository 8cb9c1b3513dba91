package hpfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// The binary mode of the control socket carries proofs as raw bytes: JSON's base64 encoding
// and decoding of multi-megabyte proofs was ~40% of the CPU of a sync through hpfsd. A client
// selects it by sending the 8-byte preamble FramePreamble (the magic "HPFSBIN" and a version
// byte) instead of a JSON object; JSON requests start with '{', so the first byte tells the
// modes apart. The connection then stays open for any number of request/response pairs, in
// order, each one frame:
//
//	frame    = length uint32 (big endian, ≤ MaxFrameBytes) | body
//	request  = op u8 | kind u8 | flags u8 | base [32] | root [32] | max_entries u32 |
//	           max_bytes u32 | start (u32 len | bytes) | [end (u32 len | bytes), if flags&1] |
//	           [shared offset u32, if flags&4 | shared length u32, if flags&4 and apply-proof] |
//	           proof (the rest; empty when flags&4)
//	response = status u8 | status == 0: op-specific result | else: message (the rest, UTF-8)
//	  range-proof, change-proof result: flags u8 (1: end present, 2: fallback, 4: shared) |
//	           [end (u32 len | bytes)] | flags&4: proof length u32 | else: proof (the rest)
//	  share result: region size u32 (the region's memfd rides along as SCM_RIGHTS)
//	  apply-proof, sync.begin result: done u8 | done: seq u64 | root [32] | unix nanos i64
//	           | else: count u32 | count × (flags u8 (1: end, 2: base) | start | [end] | [base [32]])
//	           then, for apply-proof only, what the proof proved: flags u8 (1: end present,
//	           2: complete) | [end] | entries u64 | bytes u64
//
// A malformed body gets an error response and the connection stays usable (the framing is
// intact); a length over MaxFrameBytes, or a wrong preamble, gets an error response and the
// connection is closed.

// FrameVersion is the version of the binary protocol this package speaks.
const FrameVersion = 1

// frameMagic starts the preamble.
const frameMagic = "HPFSBIN"

// FramePreamble returns the preamble selecting binary mode at the given version.
func FramePreamble(version byte) []byte { return append([]byte(frameMagic), version) }

// MaxFrameBytes bounds a frame body: a proof being applied is the largest.
const MaxFrameBytes = MaxRequestBytes

// MaxFrameKeyLen bounds a key in a frame (a path of PATH_MAX bytes plus terminators is far
// below it).
const MaxFrameKeyLen = 64 << 10

// FrameOp is a binary-mode operation.
type FrameOp uint8

// Binary-mode operations.
const (
	FrameRangeProof  FrameOp = 1
	FrameChangeProof FrameOp = 2
	FrameApplyProof  FrameOp = 3
	FrameSyncBegin   FrameOp = 4
	// FrameShare asks for a region of memory shared with the daemon (proto_shared.go).
	FrameShare FrameOp = 5
)

// String names the operation as the JSON protocol does.
func (o FrameOp) String() string {
	switch o {
	case FrameRangeProof:
		return OpRangeProof
	case FrameChangeProof:
		return OpChangeProof
	case FrameApplyProof:
		return OpApplyProof
	case FrameSyncBegin:
		return OpSyncBegin
	case FrameShare:
		return "share"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// FrameStatus is the first byte of a response.
type FrameStatus uint8

// Response statuses. Each error status maps to one sentinel so callers branch with errors.Is.
const (
	StatusOK             FrameStatus = 0
	StatusError          FrameStatus = 1 // any other failure; the message says what
	StatusUnknownVersion FrameStatus = 2 // ErrUnknownVersion
	StatusProofRejected  FrameStatus = 3 // ErrProofRejected
	StatusSessionOpen    FrameStatus = 4 // ErrSessionOpen
	StatusSyncAborted    FrameStatus = 5 // ErrSyncAborted
)

// Errors of the binary framing.
var (
	// ErrMalformedFrame reports a frame body that does not decode.
	ErrMalformedFrame = errors.New("malformed frame")
	// ErrFrameTooLarge reports a frame length over MaxFrameBytes.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrFrameVersion reports a preamble with an unknown magic or version.
	ErrFrameVersion = errors.New("unsupported binary protocol version")
)

// ReadFrame reads one frame and returns its body. A stream that ends inside a frame gives
// io.ErrUnexpectedEOF; one that ends between frames, io.EOF.
func ReadFrame(r io.Reader, max int) ([]byte, error) { return readFrameInto(r, nil, max) }

// readFrameInto is ReadFrame reading the body into buf when it fits: a fresh multi-megabyte
// buffer per frame costs a page fault per 4 KiB on this VM, more than the copy itself.
func readFrameInto(r io.Reader, buf []byte, max int) ([]byte, error) {
	n, err := readFrameHeader(r, max)
	if err != nil {
		return nil, err
	}
	body := buf[:0]
	if uint64(cap(buf)) < uint64(n) {
		body = hugeAlloc(n)
	}
	return readFrameBody(r, body[:n])
}

// readFrameRoom is ReadFrame reading the body into a fresh buffer with head free bytes before
// it and tail bytes of spare capacity after it, for a caller that wraps the body's bytes in a
// message of its own without copying them. It returns the buffer (ending with the body) and
// the body.
func readFrameRoom(r io.Reader, head, tail, max int) (buf, body []byte, err error) {
	n, err := readFrameHeader(r, max)
	if err != nil {
		return nil, nil, err
	}
	buf = hugeAlloc(head + n + tail)[:head+n]
	if body, err = readFrameBody(r, buf[head:]); err != nil {
		return nil, nil, err
	}
	return buf, body, nil
}

// readFrameHeader reads a frame's length and checks it against max.
func readFrameHeader(r io.Reader, max int) (int, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("truncated frame header: %w", err)
		}
		return 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	return int(n), nil
}

// readFrameBody fills body, the announced length of a frame.
func readFrameBody(r io.Reader, body []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("truncated frame body (%d bytes announced): %w", len(body), err)
	}
	return body, nil
}

// writeFrame writes one frame made of parts with a single writev.
func writeFrame(w io.Writer, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > MaxFrameBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, MaxFrameBytes)
	}
	hdr := binary.BigEndian.AppendUint32(nil, uint32(n))
	bufs := net.Buffers(append([][]byte{hdr}, parts...))
	_, err := bufs.WriteTo(w)
	return err
}

// checkPreamble validates the 8 bytes a binary-mode client sends first.
func checkPreamble(b []byte) error {
	if len(b) != len(frameMagic)+1 || string(b[:len(frameMagic)]) != frameMagic {
		return fmt.Errorf("%w: bad magic %q", ErrFrameVersion, b)
	}
	if b[len(frameMagic)] != FrameVersion {
		return fmt.Errorf("%w: %d (this daemon speaks %d)", ErrFrameVersion, b[len(frameMagic)], FrameVersion)
	}
	return nil
}

// frameReader decodes the fields of a body, remembering the first error.
type frameReader struct {
	b   []byte
	err error
}

func (r *frameReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformedFrame, fmt.Sprintf(format, args...))
	}
}

func (r *frameReader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("%s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *frameReader) u8(what string) uint8 {
	b := r.bytes(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *frameReader) u32(what string) uint32 {
	b := r.bytes(4, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *frameReader) u64(what string) uint64 {
	b := r.bytes(8, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (r *frameReader) hash(what string) (h [32]byte) {
	copy(h[:], r.bytes(32, what))
	return h
}

// key reads a u32-length-prefixed key; it is never nil when there is no error.
func (r *frameReader) key(what string) []byte {
	n := r.u32(what + " length")
	if r.err != nil {
		return nil
	}
	if n > MaxFrameKeyLen {
		r.fail("%s: %d bytes, limit %d", what, n, MaxFrameKeyLen)
		return nil
	}
	b := r.bytes(int(n), what)
	if r.err != nil {
		return nil
	}
	// A copy: the body's buffer is reused for the next frame.
	return append([]byte{}, b...)
}

func (r *frameReader) rest() []byte {
	out := r.b
	r.b = nil
	return out
}

func (r *frameReader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes after the %s", len(r.b), what)
	}
	return r.err
}

func appendKey(b, k []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
	return append(b, k...)
}
