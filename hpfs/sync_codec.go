package hpfs

import (
	"encoding/binary"
	"fmt"

	"github.com/hpfs/hpnode/merkle"
)

// Decoding the proofs hpfsd applies without copying them. merkle's UnmarshalBinary copies every
// node and leaf into its own allocation; for the multi-megabyte proofs of a sync that copy (and
// the page faults of its fresh memory) was a tenth of the daemon's CPU, while the frame buffer
// the proof arrives in already lives exactly as long as the apply. These decoders read the same
// wire format (merkle/codec.go: magic, version, flags, end key, node list, leaf list) with the
// same strictness, and return slices aliasing b; FuzzProofDecodersAgree checks they accept
// exactly what merkle accepts and decode it to the same values. Verification is merkle's, so a
// decoder bug could only refuse a good proof, never make a bad one pass.

const (
	proofWireVersion  = 1
	proofFlagEndInf   = 1
	proofFlagFallback = 2
	proofMaxKeyLen    = 1 << 16
	proofMaxNode      = 16 << 20
)

func decodeProofInPlace(magic byte, b []byte) (fallback bool, end merkle.Key, nodes, leaves [][]byte, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{merkle.ErrMalformedProof}, args...)...)
	}
	if len(b) < 7 || b[0] != magic || b[1] != proofWireVersion {
		return false, nil, nil, nil, bad("bad header")
	}
	flags := b[2]
	allowed := byte(proofFlagEndInf)
	if magic == 'C' {
		allowed |= proofFlagFallback
	}
	if flags&^allowed != 0 {
		return false, nil, nil, nil, bad("flags %#x", flags)
	}
	fallback = flags&proofFlagFallback != 0
	r := frameReader{b: b[3:]}
	kl := r.u32("end length")
	if kl > proofMaxKeyLen {
		return false, nil, nil, nil, bad("key of %d bytes", kl)
	}
	kb := r.bytes(int(kl), "end")
	if r.err != nil {
		return false, nil, nil, nil, bad("truncated end key")
	}
	if flags&proofFlagEndInf != 0 {
		if kl != 0 {
			return false, nil, nil, nil, bad("end key with the end-of-space flag")
		}
	} else {
		end = append(merkle.Key{}, kb...)
	}
	reuse := magic == 'C' && !fallback
	var lists [2][][]byte
	for li, max := range []int{proofMaxNode, merkle.MaxLeafSize} {
		if len(r.b) < 4 {
			return false, nil, nil, nil, bad("%d elements in %d bytes", 0, len(r.b))
		}
		n := binary.BigEndian.Uint32(r.b)
		r.b = r.b[4:]
		if uint64(n) > uint64(len(r.b))/4 {
			return false, nil, nil, nil, bad("%d elements in %d bytes", n, len(r.b))
		}
		list := make([][]byte, n)
		for i := range list {
			if len(r.b) < 4 {
				return false, nil, nil, nil, bad("element %d of %d bytes", i, 0)
			}
			l := binary.BigEndian.Uint32(r.b)
			r.b = r.b[4:]
			if l > uint32(max) || (l == 0 && !reuse) {
				return false, nil, nil, nil, bad("element %d of %d bytes", i, l)
			}
			if uint64(l) > uint64(len(r.b)) {
				return false, nil, nil, nil, bad("truncated element %d", i)
			}
			if l > 0 {
				list[i] = r.b[:l:l]
			}
			r.b = r.b[l:]
		}
		lists[li] = list
	}
	if len(r.b) != 0 {
		return false, nil, nil, nil, bad("%d trailing bytes", len(r.b))
	}
	return fallback, end, lists[0], lists[1], nil
}

// rangeProofInPlace decodes a merkle.RangeProof whose nodes and leaves alias b.
func rangeProofInPlace(b []byte) (*merkle.RangeProof, error) {
	_, end, nodes, leaves, err := decodeProofInPlace('R', b)
	if err != nil {
		return nil, err
	}
	return &merkle.RangeProof{End: end, Nodes: nodes, Leaves: leaves}, nil
}

// changeProofInPlace decodes a merkle.ChangeProof whose nodes and leaves alias b.
func changeProofInPlace(b []byte) (*merkle.ChangeProof, error) {
	fallback, end, nodes, leaves, err := decodeProofInPlace('C', b)
	if err != nil {
		return nil, err
	}
	return &merkle.ChangeProof{Fallback: fallback, End: end, Nodes: nodes, Leaves: leaves}, nil
}
