package consensus

import (
	"crypto/ed25519"
	"fmt"
)

// Stages of a round; see doc.go.
const (
	StagePropose   uint8 = 0 // each node's own candidate inputs, time and nonce
	StageMerge     uint8 = 1 // union of stage-0 candidates, plus the node's execution result
	StagePrevote   uint8 = 2 // inputs with a stage-2 majority; or the locked value
	StagePrecommit uint8 = 3 // a value that had a quorum of stage-2 votes in this round
)

// Proposal is one signed stage message of one node for one (seq, round).
type Proposal struct {
	// ContractID is the contract the proposal belongs to (part of the signature domain).
	ContractID string
	Stage      uint8
	// Seq is the ledger being agreed; Prev is the hash of ledger Seq-1.
	Seq   uint64
	Round uint32
	Prev  Hash
	// Signer is the proposing node.
	Signer PubKey
	Value  Value
	// Sig is the signature over SignedBytes.
	Sig [64]byte
	// OutputSig is empty or the signer's signature over the raw Value.Result.OutputHash. It is not
	// covered by Sig (it differs per signer while stage-3 votes must sign identical values), but it is
	// verified against Signer on its own, so a relay cannot forge it.
	OutputSig []byte

	// vh caches Value.Hash(): a received proposal is hashed once, not once per use. Decoding and
	// Sign set it, so a decoded or signed proposal is never written again and may be shared.
	vh    Hash
	hasVH bool
}

func (p *Proposal) valueHash() Hash {
	if !p.hasVH {
		p.vh, p.hasVH = p.Value.Hash(), true
	}
	return p.vh
}

func (p *Proposal) signedBytes() []byte {
	return SignedBytes(p.ContractID, p.Stage, p.Seq, p.Round, p.Prev, p.Signer, p.valueHash())
}

// Sign fills Signer, Sig and, when the output hash is non-zero, OutputSig.
func (p *Proposal) Sign(s Signer) {
	p.hasVH = false
	p.Signer = s.PublicKey()
	copy(p.Sig[:], s.Sign(p.signedBytes()))
	p.OutputSig = nil
	if !p.Value.Result.OutputHash.IsZero() {
		p.OutputSig = s.Sign(p.Value.Result.OutputHash[:])
	}
}

// Verify checks the Ed25519 signature, and the output signature when present.
func (p *Proposal) Verify() error { return p.VerifyWith(Ed25519Verify) }

// VerifyWith is Verify with another signature scheme (the simulator's cheap one).
func (p *Proposal) VerifyWith(verify SigVerifier) error {
	if !verify(p.Signer, p.signedBytes(), p.Sig[:]) {
		return fmt.Errorf("proposal seq %d round %d stage %d from %s: %w", p.Seq, p.Round, p.Stage, p.Signer, ErrBadSignature)
	}
	if len(p.OutputSig) != 0 && !verify(p.Signer, p.Value.Result.OutputHash[:], p.OutputSig) {
		return fmt.Errorf("proposal seq %d output signature from %s: %w", p.Seq, p.Signer, ErrBadSignature)
	}
	return nil
}

func encodeProposal(e *enc, p *Proposal) {
	e.u8(uint8(len(p.ContractID)))
	e.raw([]byte(p.ContractID))
	e.u8(p.Stage)
	e.u64(p.Seq)
	e.u32(p.Round)
	e.hash(p.Prev)
	e.hash(p.Signer)
	encodeValue(e, &p.Value)
	e.raw(p.Sig[:])
	e.u8(uint8(len(p.OutputSig)))
	e.raw(p.OutputSig)
}

func decodeProposal(d *dec) *Proposal {
	p := &Proposal{}
	n := int(d.u8("contract id length"))
	p.ContractID = string(d.take(n, "contract id"))
	p.Stage = d.u8("stage")
	if p.Stage > StagePrecommit {
		d.fail("stage %d", p.Stage)
	}
	p.Seq = d.u64("seq")
	p.Round = d.u32("round")
	p.Prev = d.hash("prev")
	p.Signer = d.hash("signer")
	p.Value = decodeValue(d)
	copy(p.Sig[:], d.take(64, "sig"))
	switch n := int(d.u8("output sig length")); n {
	case 0:
	case ed25519.SignatureSize:
		p.OutputSig = append([]byte(nil), d.take(n, "output sig")...)
	default:
		d.fail("output sig length %d", n)
	}
	if d.err == nil {
		p.vh, p.hasVH = p.Value.Hash(), true
	}
	return p
}
