package merkle

import (
	"encoding/binary"
	"fmt"
)

// Proof wire format (all integers big-endian):
//
//	u8 magic ('R' range proof, 'C' change proof) || u8 version (1) || u8 flags
//	  (bit 0: End is nil, the end of the key space; bit 1: change proof fell back to a range proof)
//	|| u32 len(End) || End
//	|| u32 n || n × (u32 len || node bytes)     (len 0: reuse marker, change proofs only)
//	|| u32 m || m × (u32 len || leaf bytes)     (len 0: reuse marker, change proofs only)
//
// Decoding is strict: unknown flags, oversized fields, counts beyond the remaining bytes and
// trailing bytes are errors wrapping ErrMalformedProof.

const (
	proofVersion   = 1
	flagEndInf     = 1
	flagFallback   = 2
	maxProofKeyLen = 1 << 16
	maxProofNode   = 16 << 20
)

func marshalProof(magic byte, fallback bool, end Key, nodes, leaves [][]byte) []byte {
	size := 15 + len(end)
	for _, n := range nodes {
		size += 4 + len(n)
	}
	for _, l := range leaves {
		size += 4 + len(l)
	}
	b := make([]byte, 0, size)
	var flags byte
	if end == nil {
		flags |= flagEndInf
	}
	if fallback {
		flags |= flagFallback
	}
	b = append(b, magic, proofVersion, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(len(end)))
	b = append(b, end...)
	for _, list := range [][][]byte{nodes, leaves} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(list)))
		for _, x := range list {
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
			b = append(b, x...)
		}
	}
	return b
}

func unmarshalProof(magic byte, b []byte) (fallback bool, end Key, nodes, leaves [][]byte, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformedProof}, args...)...)
	}
	if len(b) < 7 || b[0] != magic || b[1] != proofVersion {
		return false, nil, nil, nil, bad("bad header")
	}
	flags := b[2]
	allowed := byte(flagEndInf)
	if magic == 'C' {
		allowed |= flagFallback
	}
	if flags&^allowed != 0 {
		return false, nil, nil, nil, bad("flags %#x", flags)
	}
	fallback = flags&flagFallback != 0
	r := &reader{b: b[3:]}
	kl := r.u32()
	if kl > maxProofKeyLen {
		return false, nil, nil, nil, bad("key of %d bytes", kl)
	}
	kb := r.bytes(int(kl))
	if r.err != nil {
		return false, nil, nil, nil, bad("truncated end key")
	}
	if flags&flagEndInf != 0 {
		if kl != 0 {
			return false, nil, nil, nil, bad("end key with the end-of-space flag")
		}
	} else {
		end = append(Key{}, kb...)
	}
	reuse := magic == 'C' && !fallback
	lists := [2][][]byte{}
	for li, max := range []int{maxProofNode, MaxLeafSize} {
		n := r.u32()
		if r.err != nil || uint64(n) > uint64(len(r.b))/4 {
			return false, nil, nil, nil, bad("%d elements in %d bytes", n, len(r.b))
		}
		list := make([][]byte, n)
		for i := range list {
			l := r.u32()
			if r.err != nil || l > uint32(max) || (l == 0 && !reuse) {
				return false, nil, nil, nil, bad("element %d of %d bytes", i, l)
			}
			x := r.bytes(int(l))
			if r.err != nil {
				return false, nil, nil, nil, bad("truncated element %d", i)
			}
			if l > 0 {
				list[i] = append([]byte(nil), x...)
			}
		}
		lists[li] = list
	}
	if len(r.b) != 0 {
		return false, nil, nil, nil, bad("%d trailing bytes", len(r.b))
	}
	return fallback, end, lists[0], lists[1], nil
}

// MarshalBinary encodes the proof.
func (p *RangeProof) MarshalBinary() ([]byte, error) {
	return marshalProof('R', false, p.End, p.Nodes, p.Leaves), nil
}

// UnmarshalBinary decodes a proof, strictly; the error wraps ErrMalformedProof.
func (p *RangeProof) UnmarshalBinary(b []byte) error {
	_, end, nodes, leaves, err := unmarshalProof('R', b)
	if err != nil {
		return err
	}
	*p = RangeProof{End: end, Nodes: nodes, Leaves: leaves}
	return nil
}

// MarshalBinary encodes the proof.
func (p *ChangeProof) MarshalBinary() ([]byte, error) {
	return marshalProof('C', p.Fallback, p.End, p.Nodes, p.Leaves), nil
}

// UnmarshalBinary decodes a proof, strictly; the error wraps ErrMalformedProof.
func (p *ChangeProof) UnmarshalBinary(b []byte) error {
	fallback, end, nodes, leaves, err := unmarshalProof('C', b)
	if err != nil {
		return err
	}
	*p = ChangeProof{Fallback: fallback, End: end, Nodes: nodes, Leaves: leaves}
	return nil
}
