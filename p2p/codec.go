package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decoding error: a field that is missing,
// longer than its bound, or trailing bytes after the last field.
var ErrMalformed = errors.New("p2p: malformed message")

// wireVersion is the first byte of every frame body. A receiver rejects any
// other value rather than guessing at a layout it does not know.
const wireVersion = 1

// encoder appends fields to a byte slice. It never fails: bounds are the
// decoder's job, and the encoder is only fed values this package built.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

// fixed appends v without a length: the decoder knows its size.
func (e *encoder) fixed(v []byte) { e.b = append(e.b, v...) }

// bytes appends a uvarint length then v.
func (e *encoder) bytes(v []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}

// decoder reads fields in order. The first error sticks: later reads return
// zero values, so a decode function can read every field and check err once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(field, what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", ErrMalformed, field, what)
	}
}

func (d *decoder) take(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail(field, "missing")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(field string) uint8 {
	if v := d.take(field, 1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16(field string) uint16 {
	if v := d.take(field, 2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32(field string) uint32 {
	if v := d.take(field, 4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64(field string) uint64 {
	if v := d.take(field, 8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// fixed reads exactly n bytes and copies them into dst.
func (d *decoder) fixed(field string, dst []byte) {
	if v := d.take(field, len(dst)); v != nil {
		copy(dst, v)
	}
}

// bytes reads a uvarint length, checks it against max before looking at the
// data, and returns a slice aliasing the input.
func (d *decoder) bytes(field string, max int) []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail(field, "missing or bad length")
		return nil
	}
	if n > uint64(max) {
		d.fail(field, fmt.Sprintf("length %d exceeds bound %d", n, max))
		return nil
	}
	d.b = d.b[k:]
	return d.take(field, int(n))
}

// finish reports the first error, or trailing bytes after the last field.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("message", fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}
