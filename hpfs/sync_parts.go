package hpfs

import (
	"encoding/binary"

	"github.com/hpfs/hpnode/merkle"
)

// A proof served over the binary control protocol is written as the pieces of one writev
// instead of merkle's MarshalBinary: marshalling copied every leaf byte of every proof once
// more (a tenth of a 1 GiB sync's CPU, measured), only for the copy to be written to the socket
// and dropped. proofParts lays out exactly merkle's encoding (codec.go there):
//
//	magic | version | flags | u32 len(end) | end | u32 #nodes | (u32 len | node)* | u32 #leaves | (u32 len | leaf)*
//
// with the small fields and the nodes copied into one head piece and each leaf referenced where
// it lies (the version and flag constants are sync_codec.go's). TestProofPartsMatchMarshal
// holds it to merkle's bytes for every kind and flag.
const (
	proofMagicRange  = 'R'
	proofMagicChange = 'C'
)

// proofParts returns the encoding of a proof as pieces whose concatenation is what merkle's
// MarshalBinary returns for it. The leaf pieces alias leaves.
func proofParts(magic byte, fallback bool, end merkle.Key, nodes, leaves [][]byte) [][]byte {
	head := 15 + len(end)
	for _, n := range nodes {
		head += 4 + len(n)
	}
	b := make([]byte, 0, head)
	var flags byte
	if end == nil {
		flags |= proofFlagEndInf
	}
	if fallback {
		flags |= proofFlagFallback
	}
	b = append(b, magic, proofWireVersion, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(len(end)))
	b = append(b, end...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(nodes)))
	for _, n := range nodes {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
		b = append(b, n...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(leaves)))
	parts := make([][]byte, 0, 1+2*len(leaves))
	parts = append(parts, b)
	// One buffer holds every leaf's length prefix; each piece is a 4-byte window of it.
	lens := make([]byte, 4*len(leaves))
	for i, l := range leaves {
		p := lens[4*i : 4*i+4 : 4*i+4]
		binary.BigEndian.PutUint32(p, uint32(len(l)))
		parts = append(parts, p, l)
	}
	return parts
}

// rangeProofParts is proofParts for a range proof.
func rangeProofParts(p *merkle.RangeProof) [][]byte {
	return proofParts(proofMagicRange, false, p.End, p.Nodes, p.Leaves)
}

// changeProofParts is proofParts for a change proof.
func changeProofParts(p *merkle.ChangeProof) [][]byte {
	return proofParts(proofMagicChange, p.Fallback, p.End, p.Nodes, p.Leaves)
}
