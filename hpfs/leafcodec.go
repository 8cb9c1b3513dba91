package hpfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	"github.com/cockroachdb/pebble/v2"
)

// Stored leaf values carry a one-byte format so that mostly-zero leaves cost their non-zero bytes
// on disk, not the leaf size. A 5-byte write into a sparse 64 MiB file dirties a 64 KiB leaf that
// is all zero but five bytes: storing it raw made a commit of 5,000 such writes copy, log and
// sync 64 MiB. The leaf's hash is always of its decoded bytes; the encoding is local to this
// store and never leaves it (proofs and exports carry decoded leaves).
//
//	leafRaw    | bytes
//	leafSparse | uvarint length | { uvarint gap | uvarint n | n bytes }*
//
// In a sparse value each run starts gap zero bytes after the previous run's end; bytes after the
// last run up to length are zero. Runs are non-empty and never pass length.
const (
	leafRaw    byte = 0
	leafSparse byte = 1
)

// leafFormat is the stored-leaf format version recorded in the params record; a store written
// with raw, unprefixed leaves (format 0) is refused rather than misread.
const leafFormat = 1

// sparseBlock is the granularity of the zero scan: bytes.Equal on 64-byte blocks runs at memory
// speed, and a run boundary inside a block costs at most 63 stored zero bytes.
const sparseBlock = 64

var zeroBlock [sparseBlock]byte

// errBadLeaf reports a stored leaf value that does not decode.
var errBadLeaf = errors.New("malformed stored leaf")

// encodeSparse returns the sparse encoding of data when it is at most half of data's size, or
// nil when data should be stored raw. It gives up as soon as too many blocks are non-zero, so
// dense leaves cost a scan of at most half of their bytes.
func encodeSparse(data []byte) []byte {
	return encodeSparseBlocks(data, func(yield func(int) bool) {
		for b := 0; b*sparseBlock < len(data); b++ {
			if !yield(b) {
				return
			}
		}
	})
}

// encodeSparseBlocks is encodeSparse comparing only the blocks candidates yields, as ascending
// block indexes without repeats; every other block of data must be zero. Its output is the same
// as encodeSparse's for such data, as zero blocks are skipped either way.
func encodeSparseBlocks(data []byte, candidates iter.Seq[int]) []byte {
	limit := len(data) / 2
	if limit < 16 {
		return nil
	}
	nonzero := 0
	type run struct{ start, end int }
	var runs []run
	for b := range candidates {
		off := b * sparseBlock
		end := min(off+sparseBlock, len(data))
		if bytes.Equal(data[off:end], zeroBlock[:end-off]) {
			continue
		}
		if nonzero += end - off; nonzero > limit {
			return nil
		}
		if k := len(runs); k > 0 && runs[k-1].end == off {
			runs[k-1].end = end
		} else {
			runs = append(runs, run{off, end})
		}
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+nonzero+len(runs)*2*binary.MaxVarintLen32)
	out = append(out, leafSparse)
	out = binary.AppendUvarint(out, uint64(len(data)))
	prev := 0
	for _, r := range runs {
		out = binary.AppendUvarint(out, uint64(r.start-prev))
		out = binary.AppendUvarint(out, uint64(r.end-r.start))
		out = append(out, data[r.start:r.end]...)
		prev = r.end
	}
	if len(out) > limit {
		return nil
	}
	return out
}

// encodeLeaf returns the stored value of a leaf.
func encodeLeaf(data []byte) []byte {
	if sp := encodeSparse(data); sp != nil {
		return sp
	}
	out := make([]byte, 1+len(data))
	out[0] = leafRaw
	copy(out[1:], data)
	return out
}

// decodeLeaf returns a leaf's bytes from its stored value, at most maxLen of them. A raw value
// may share memory with v.
func decodeLeaf(v []byte, maxLen int) ([]byte, error) { return decodeLeafInto(v, nil, maxLen) }

// decodeLeafInto is decodeLeaf decoding a sparse value into buf when it has the room (else into
// a new slice); a raw value still shares memory with v.
func decodeLeafInto(v, buf []byte, maxLen int) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty value", errBadLeaf)
	}
	switch v[0] {
	case leafRaw:
		if len(v)-1 > maxLen {
			return nil, fmt.Errorf("%w: %d bytes, leaf size %d", errBadLeaf, len(v)-1, maxLen)
		}
		return v[1:], nil
	case leafSparse:
	default:
		return nil, fmt.Errorf("%w: unknown format %d", errBadLeaf, v[0])
	}
	p := v[1:]
	size, k := binary.Uvarint(p)
	if k <= 0 || size > uint64(maxLen) {
		return nil, fmt.Errorf("%w: bad length", errBadLeaf)
	}
	p = p[k:]
	var out []byte
	if buf != nil && uint64(cap(buf)) >= size {
		out = buf[:size]
		clear(out)
	} else {
		out = make([]byte, size)
	}
	pos := uint64(0)
	for len(p) > 0 {
		gap, k1 := binary.Uvarint(p)
		if k1 <= 0 {
			return nil, fmt.Errorf("%w: bad gap", errBadLeaf)
		}
		n, k2 := binary.Uvarint(p[k1:])
		if k2 <= 0 || n == 0 {
			return nil, fmt.Errorf("%w: bad run length", errBadLeaf)
		}
		p = p[k1+k2:]
		if gap > size-pos || n > size-pos-gap || n > uint64(len(p)) {
			return nil, fmt.Errorf("%w: run past the end", errBadLeaf)
		}
		pos += gap
		copy(out[pos:], p[:n])
		pos += n
		p = p[n:]
	}
	return out, nil
}

// setLeaf adds the stored value of leaf data under key to b, copying a raw leaf once (straight
// into the batch) rather than twice.
func setLeaf(b *pebble.Batch, key, data []byte) error {
	return setLeafEncoded(b, key, data, encodeSparse(data))
}

// setLeafEncoded is setLeaf with encodeSparse(data) already computed (nil: store raw).
func setLeafEncoded(b *pebble.Batch, key, data, sparse []byte) error {
	if sparse != nil {
		return b.Set(key, sparse, nil)
	}
	op := b.SetDeferred(len(key), 1+len(data))
	copy(op.Key, key)
	op.Value[0] = leafRaw
	copy(op.Value[1:], data)
	return op.Finish()
}
