package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Bounds on every variable-length field of the binary encoding. A decoder checks each count against
// its bound before allocating, so a hostile length prefix cannot make it allocate more than the
// input's own size justifies.
const (
	// MaxUNL is the largest UNL (HotPocket caps its proposal list at 255).
	MaxUNL = 255
	// MaxUsers is the most users one value may name.
	MaxUsers = 1 << 16
	// MaxInputs is the most inputs one value may order.
	MaxInputs = 1 << 16
	// MaxInputBytes is the largest input container (HotPocket's default message limit, 5 MiB).
	MaxInputBytes = 5 << 20
	// MaxBatchInputs is the most inputs one InputBatch or LedgerResponse carries: a whole ledger.
	MaxBatchInputs = MaxInputs
	// MaxLedgerInputBytes bounds the input bytes of one ledger, so that a ledger with its raw inputs
	// always fits in one LedgerResponse under MaxMessageBytes.
	MaxLedgerInputBytes = 32 << 20
	// MaxContractID is the longest contract id the signature domain accepts.
	MaxContractID = 255
	// MaxMessageBytes bounds a whole encoded message.
	MaxMessageBytes = 64 << 20
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("consensus: malformed message")

// enc appends big-endian fixed-width fields; it never fails.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)      { e.b = append(e.b, v) }
func (e *enc) u32(v uint32)    { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)    { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) raw(p []byte)    { e.b = append(e.b, p...) }
func (e *enc) bytes(p []byte)  { e.u32(uint32(len(p))); e.b = append(e.b, p...) }
func (e *enc) hash(h [32]byte) { e.b = append(e.b, h[:]...) }

// dec reads fields with bounds; the first error sticks and later reads return zero values.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (d *dec) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail("%s: need %d bytes, have %d", what, n, len(d.b))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) u8(what string) uint8 {
	p := d.take(1, what)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *dec) u32(what string) uint32 {
	p := d.take(4, what)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (d *dec) u64(what string) uint64 {
	p := d.take(8, what)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

func (d *dec) hash(what string) (h [32]byte) {
	copy(h[:], d.take(32, what))
	return h
}

// count reads a u32 element count, rejecting it if it exceeds max or if the remaining input cannot
// hold that many elements of at least minSize bytes each.
func (d *dec) count(what string, max, minSize int) int {
	n := d.u32(what + " count")
	if d.err != nil {
		return 0
	}
	if int64(n) > int64(max) {
		d.fail("%s count %d exceeds %d", what, n, max)
		return 0
	}
	if minSize > 0 && int64(n)*int64(minSize) > int64(len(d.b)) {
		d.fail("%s count %d exceeds remaining %d bytes", what, n, len(d.b))
		return 0
	}
	return int(n)
}

// bytes reads a u32-length-prefixed byte string of at most max bytes, copied out of the input.
func (d *dec) bytes(what string, max int) []byte {
	n := d.count(what+" length", max, 1)
	p := d.take(n, what)
	if p == nil {
		return nil
	}
	return append([]byte(nil), p...)
}

// done fails unless the whole input was consumed: trailing bytes are a different message.
func (d *dec) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%s: %d trailing bytes", what, len(d.b))
	}
	return d.err
}
