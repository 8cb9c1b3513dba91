package statesync

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
	"github.com/hpfs/hpnode/statesync/internal/hugemem"
)

// KindStateSync is the p2p request kind of state-sync requests: the body is an encoded Request,
// the response an encoded Response. Kinds 16–18 are the mesh's named application kinds and
// 40–41 are used by p2p's tests; 32 is reserved here for state sync (33 is left for ledger sync).
const KindStateSync p2p.Kind = 32

// WireVersion is the first byte of every request and response. A peer speaking another version
// gets StatusError/CodeBadRequest, never a guess.
const WireVersion = 1

// Bounds enforced by both decoders before any allocation.
const (
	// MaxKeyLen bounds a key on the wire: a path of PATH_MAX bytes plus terminators and a
	// leaf index fits comfortably.
	MaxKeyLen = 8192
	// MaxHints bounds the split hints asked for and returned.
	MaxHints = 64
	// MaxProofBytes bounds the proof carried by one response.
	MaxProofBytes = 64 << 20
	// MaxNackRoots bounds the roots a NACK lists.
	MaxNackRoots = 16
	// MaxMessageLen bounds an error response's text.
	MaxMessageLen = 256
	// responseOverhead bounds what a Response adds around its proof.
	responseOverhead = 32 + MaxHints*(2+MaxKeyLen)
)

// ProofKind says whether a request or proof is a range proof or a change proof.
type ProofKind uint8

// Proof kinds. The values are part of the wire format.
const (
	ProofRange  ProofKind = 1
	ProofChange ProofKind = 2
)

// String names the kind.
func (k ProofKind) String() string {
	switch k {
	case ProofRange:
		return "range"
	case ProofChange:
		return "change"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Request asks a peer for a proof of the entries with keys in [Start, End] (End nil: to the end
// of the key space) of the tree at Root. A change request asks only for what differs from Base.
type Request struct {
	Kind ProofKind
	Root merkle.Hash
	// Base is the change proof's old root: non-zero exactly when Kind is ProofChange.
	Base  merkle.Hash
	Start merkle.Key
	End   merkle.Key
	// MaxEntries and MaxBytes limit the proof (0: the server's own limit); the server may
	// lower them but never raise them.
	MaxEntries uint32
	MaxBytes   uint32
	// Hints asks for up to this many split keys in the part of the range the proof leaves out,
	// so the client can fetch the rest in parallel chunks. Hints are advisory only.
	Hints uint8
}

// Status is a response's outcome.
type Status uint8

// Response statuses. The values are part of the wire format.
const (
	// StatusOK carries a proof.
	StatusOK Status = 0
	// StatusNack says "I do not have that root" (Roots lists some roots the server has).
	StatusNack Status = 1
	// StatusError carries an error code and text.
	StatusError Status = 2
)

// ErrCode classifies a StatusError response.
type ErrCode uint8

// Error codes. The values are part of the wire format.
const (
	// CodeBadRequest: the request does not decode or is out of bounds.
	CodeBadRequest ErrCode = 1
	// CodeBusy: the server is at its concurrent-proof limit; try elsewhere or later.
	CodeBusy ErrCode = 2
	// CodeInternal: the server failed to build the proof.
	CodeInternal ErrCode = 3
)

// Response answers a Request.
type Response struct {
	Status Status
	// Kind and Proof (StatusOK): the marshalled merkle.RangeProof or merkle.ChangeProof. A change
	// request may be answered with a change proof whose Fallback is set.
	Kind  ProofKind
	Proof []byte
	// Hints (StatusOK): split keys strictly after the proof's end and inside the request range,
	// in increasing order. Unverified: they only steer scheduling.
	Hints []merkle.Key
	// Totals (StatusOK): the server's estimate of the whole tree's size, zero when it sent no
	// hints. Unverified: progress reporting only.
	Totals Totals
	// Roots (StatusNack): roots the server can serve, newest first.
	Roots []merkle.Hash
	// Code and Message (StatusError).
	Code    ErrCode
	Message string

	// buf, on the serving side, is the Proof.Buf Proof lies in: MarshalBinary then encodes the
	// response around the proof in place when there is room.
	buf []byte
}

// ResponseHeadroom is the room a proof needs before it in Proof.Buf for the response to be
// encoded in place: the wire version, status, kind and the proof's length.
const ResponseHeadroom = 7

// ResponseTailroom is the spare capacity after a proof in Proof.Buf that holds the hints and
// totals of most responses; with less, the in-place response is copied once when they are
// appended.
const ResponseTailroom = 4 << 10

// ErrMalformed reports a request or response that does not decode; it is wrapped with detail.
var ErrMalformed = errors.New("statesync: malformed message")

// Validate checks a request's fields against each other and the bounds.
func (r *Request) Validate() error {
	switch r.Kind {
	case ProofRange:
		if !r.Base.IsZero() {
			return fmt.Errorf("%w: range request with a base root", ErrMalformed)
		}
	case ProofChange:
		if r.Base.IsZero() {
			return fmt.Errorf("%w: change request without a base root", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: request kind %d", ErrMalformed, r.Kind)
	}
	if r.Start == nil {
		return fmt.Errorf("%w: nil start key", ErrMalformed)
	}
	if len(r.Start) > MaxKeyLen || len(r.End) > MaxKeyLen {
		return fmt.Errorf("%w: key longer than %d bytes", ErrMalformed, MaxKeyLen)
	}
	if r.End != nil && bytes.Compare(r.Start, r.End) > 0 {
		return fmt.Errorf("%w: start %s after end %s", ErrMalformed, r.Start, r.End)
	}
	if r.Hints > MaxHints {
		return fmt.Errorf("%w: %d hints asked, at most %d", ErrMalformed, r.Hints, MaxHints)
	}
	if r.MaxBytes > MaxProofBytes {
		return fmt.Errorf("%w: max bytes %d over %d", ErrMalformed, r.MaxBytes, MaxProofBytes)
	}
	return nil
}

// MarshalBinary encodes a valid request.
func (r *Request) MarshalBinary() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 80+len(r.Start)+len(r.End))
	b = append(b, WireVersion, byte(r.Kind))
	b = append(b, r.Root[:]...)
	if r.Kind == ProofChange {
		b = append(b, r.Base[:]...)
	}
	b = appendKey(b, r.Start)
	if r.End == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendKey(b, r.End)
	}
	b = binary.BigEndian.AppendUint32(b, r.MaxEntries)
	b = binary.BigEndian.AppendUint32(b, r.MaxBytes)
	return append(b, r.Hints), nil
}

// UnmarshalBinary decodes a request strictly: every field bounded, no trailing bytes.
func (r *Request) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.u8("version"); d.err == nil && v != WireVersion {
		return fmt.Errorf("%w: wire version %d, want %d", ErrMalformed, v, WireVersion)
	}
	var out Request
	out.Kind = ProofKind(d.u8("kind"))
	out.Root = d.hash("root")
	if out.Kind == ProofChange {
		out.Base = d.hash("base")
	}
	out.Start = d.key("start")
	switch d.u8("has end") {
	case 0:
	case 1:
		out.End = d.key("end")
	default:
		d.fail("has end flag is not 0 or 1")
	}
	out.MaxEntries = d.u32("max entries")
	out.MaxBytes = d.u32("max bytes")
	out.Hints = d.u8("hints")
	if err := d.finish(); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*r = out
	return nil
}

// MarshalBinary encodes a response.
func (r *Response) MarshalBinary() ([]byte, error) {
	if b, ok, err := r.marshalInPlace(); ok || err != nil {
		return b, err
	}
	// A response is as big as its proof: filled once and handed to the transport, so its
	// memory is best taken in huge pages.
	b := hugemem.Alloc(0, 64+len(r.Proof)+len(r.Hints)*(2+MaxKeyLen/16))
	b = append(b, WireVersion, byte(r.Status))
	switch r.Status {
	case StatusOK:
		if err := r.checkOK(); err != nil {
			return nil, err
		}
		b = append(b, byte(r.Kind))
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Proof)))
		b = append(b, r.Proof...)
		return r.appendOKTail(b)
	case StatusNack:
		if len(r.Roots) > MaxNackRoots {
			return nil, fmt.Errorf("%w: %d roots in a nack, at most %d", ErrMalformed, len(r.Roots), MaxNackRoots)
		}
		b = append(b, byte(len(r.Roots)))
		for _, h := range r.Roots {
			b = append(b, h[:]...)
		}
	case StatusError:
		msg := r.Message
		if len(msg) > MaxMessageLen {
			msg = msg[:MaxMessageLen]
		}
		b = append(b, byte(r.Code))
		b = binary.BigEndian.AppendUint16(b, uint16(len(msg)))
		b = append(b, msg...)
	default:
		return nil, fmt.Errorf("%w: status %d", ErrMalformed, r.Status)
	}
	return b, nil
}

// marshalInPlace encodes an OK response around its proof in r.buf when the proof lies there
// with room before it; ok is false when it does not (MarshalBinary then copies).
func (r *Response) marshalInPlace() (b []byte, ok bool, err error) {
	if r.Status != StatusOK || r.buf == nil || len(r.Proof) == 0 {
		return nil, false, nil
	}
	off := cap(r.buf) - cap(r.Proof)
	if off < ResponseHeadroom || off >= len(r.buf) || &r.buf[off] != &r.Proof[0] {
		return nil, false, nil
	}
	if err := r.checkOK(); err != nil {
		return nil, true, err
	}
	b = r.buf[off-ResponseHeadroom : off+len(r.Proof)]
	b[0], b[1], b[2] = WireVersion, byte(r.Status), byte(r.Kind)
	binary.BigEndian.PutUint32(b[3:ResponseHeadroom], uint32(len(r.Proof)))
	b, err = r.appendOKTail(b)
	return b, true, err
}

// checkOK checks the fields of an OK response against the bounds.
func (r *Response) checkOK() error {
	if r.Kind != ProofRange && r.Kind != ProofChange {
		return fmt.Errorf("%w: proof kind %d", ErrMalformed, r.Kind)
	}
	if len(r.Proof) > MaxProofBytes {
		return fmt.Errorf("%w: proof of %d bytes over %d", ErrMalformed, len(r.Proof), MaxProofBytes)
	}
	if len(r.Hints) > MaxHints {
		return fmt.Errorf("%w: %d hints over %d", ErrMalformed, len(r.Hints), MaxHints)
	}
	return nil
}

// appendOKTail appends what follows an OK response's proof: the hints and the totals.
func (r *Response) appendOKTail(b []byte) ([]byte, error) {
	b = append(b, byte(len(r.Hints)))
	for _, h := range r.Hints {
		if h == nil || len(h) > MaxKeyLen {
			return nil, fmt.Errorf("%w: hint key of %d bytes", ErrMalformed, len(h))
		}
		b = appendKey(b, h)
	}
	b = binary.BigEndian.AppendUint64(b, r.Totals.Entries)
	b = binary.BigEndian.AppendUint64(b, r.Totals.Bytes)
	return b, nil
}

// UnmarshalBinary decodes a response strictly. The proof bytes alias b.
func (r *Response) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.u8("version"); d.err == nil && v != WireVersion {
		return fmt.Errorf("%w: wire version %d, want %d", ErrMalformed, v, WireVersion)
	}
	out := Response{Status: Status(d.u8("status"))}
	switch out.Status {
	case StatusOK:
		out.Kind = ProofKind(d.u8("proof kind"))
		if d.err == nil && out.Kind != ProofRange && out.Kind != ProofChange {
			d.fail(fmt.Sprintf("proof kind %d", out.Kind))
		}
		n := d.u32("proof length")
		if d.err == nil && n > MaxProofBytes {
			d.fail(fmt.Sprintf("proof of %d bytes over %d", n, MaxProofBytes))
		}
		out.Proof = d.bytes(int(n), "proof")
		nh := d.u8("hint count")
		if d.err == nil && nh > MaxHints {
			d.fail(fmt.Sprintf("%d hints over %d", nh, MaxHints))
		}
		for i := 0; i < int(nh) && d.err == nil; i++ {
			out.Hints = append(out.Hints, d.key("hint"))
		}
		out.Totals.Entries = d.u64("total entries")
		out.Totals.Bytes = d.u64("total bytes")
	case StatusNack:
		n := d.u8("root count")
		if d.err == nil && n > MaxNackRoots {
			d.fail(fmt.Sprintf("%d roots over %d", n, MaxNackRoots))
		}
		for i := 0; i < int(n) && d.err == nil; i++ {
			out.Roots = append(out.Roots, d.hash("root"))
		}
	case StatusError:
		out.Code = ErrCode(d.u8("code"))
		n := d.u16("message length")
		if d.err == nil && n > MaxMessageLen {
			d.fail(fmt.Sprintf("message of %d bytes over %d", n, MaxMessageLen))
		}
		out.Message = string(d.bytes(int(n), "message"))
	default:
		if d.err == nil {
			d.fail(fmt.Sprintf("status %d", out.Status))
		}
	}
	if err := d.finish(); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	*r = out
	return nil
}

func appendKey(b []byte, k merkle.Key) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
	return append(b, k...)
}

// decoder reads fixed-width fields; the first failure sticks and later reads return zeros.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
}

func (d *decoder) bytes(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail(fmt.Sprintf("truncated %s", what))
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u8(what string) uint8 {
	if b := d.bytes(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if b := d.bytes(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.bytes(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if b := d.bytes(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) hash(what string) merkle.Hash {
	var h merkle.Hash
	copy(h[:], d.bytes(32, what))
	return h
}

// key reads a length-prefixed key; the result is a fresh non-nil slice (Key{} for length 0).
func (d *decoder) key(what string) merkle.Key {
	n := d.u16(what + " length")
	if d.err == nil && n > MaxKeyLen {
		d.fail(fmt.Sprintf("%s of %d bytes over %d", what, n, MaxKeyLen))
	}
	b := d.bytes(int(n), what)
	if d.err != nil {
		return nil
	}
	return append(merkle.Key{}, b...)
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}
