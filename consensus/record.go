package consensus

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Vote is one UNL member's stage-3 signature in a ledger's certificate.
type Vote struct {
	Signer PubKey
	// Sig is the stage-3 proposal signature (SignedBytes with stage 3 and the record's round).
	Sig [64]byte
	// OutputSig is empty or the signer's signature over the raw output hash (HotPocket's unl_sig).
	OutputSig []byte
}

// Record is a closed ledger: the agreed value plus the quorum certificate that closed it. Everything a
// syncing node or a user needs to check the ledger is here: the hash link (Prev), the content and
// the signatures of a quorum of the UNL that governed this sequence.
type Record struct {
	Seq   uint64
	Prev  Hash
	Round uint32
	Value Value
	// Cert holds the stage-3 votes, sorted by signer. Empty only for the genesis record.
	Cert []Vote
}

// Hash is the canonical ledger hash (LedgerHash).
func (r *Record) Hash() Hash { return LedgerHash(r.Seq, r.Prev, &r.Value) }

// UNLSigs returns the (signer, output signature) pairs of the certificate: HotPocket's unl_sig for
// the outputs whose root is Value.Result.OutputHash.
func (r *Record) UNLSigs() []Vote {
	var out []Vote
	for _, v := range r.Cert {
		if len(v.OutputSig) != 0 {
			out = append(out, v)
		}
	}
	return out
}

// Sign adds s's vote to the certificate: the signature a stage-3 proposal of this record's round
// carries, and the output signature when the record has an output hash. Nodes build certificates
// from received proposals instead; this is for tools and tests that need certified records.
func (r *Record) Sign(contractID string, s Signer) {
	v := Vote{Signer: s.PublicKey()}
	copy(v.Sig[:], s.Sign(SignedBytes(contractID, StagePrecommit, r.Seq, r.Round, r.Prev, v.Signer, r.Value.Hash())))
	if !r.Value.Result.OutputHash.IsZero() {
		v.OutputSig = s.Sign(r.Value.Result.OutputHash[:])
	}
	r.Cert = append(r.Cert, v)
}

// Genesis returns the sequence-0 record: no inputs, no certificate, the initial state and the
// configuration that governs ledger 1.
func Genesis(time uint64, initial Result) Record {
	initial.Seq = 0
	initial.Config = initial.Config.Clone()
	return Record{Value: Value{Time: time, Result: initial}}
}

// Errors from record verification.
var (
	// ErrBrokenChain means a record does not link to its predecessor.
	ErrBrokenChain = errors.New("consensus: ledger does not link to its predecessor")
	// ErrNoQuorum means a certificate lacks a quorum of valid UNL signatures.
	ErrNoQuorum = errors.New("consensus: certificate has no quorum")
)

// VerifyRecord checks that r is a valid successor of prev for the given contract: the hash link,
// the sequence and time order, that the value records the execution of prev, and a quorum of valid
// stage-3 signatures from the UNL configured by prev (the epoch rule). It needs nothing else, so a
// syncing node can check fetched ledgers one by one from genesis or from any trusted record.
func VerifyRecord(contractID string, prev *Record, r *Record) error {
	return VerifyRecordWith(Ed25519Verify, contractID, prev, r)
}

// VerifyRecordWith is VerifyRecord with another signature scheme.
func VerifyRecordWith(verify SigVerifier, contractID string, prev *Record, r *Record) error {
	if r.Seq != prev.Seq+1 || r.Prev != prev.Hash() {
		return fmt.Errorf("ledger %d after %d: %w", r.Seq, prev.Seq, ErrBrokenChain)
	}
	if r.Value.Time <= prev.Value.Time {
		return fmt.Errorf("ledger %d: time %d not after %d: %w", r.Seq, r.Value.Time, prev.Value.Time, ErrBrokenChain)
	}
	if r.Value.Result.Seq != prev.Seq {
		return fmt.Errorf("ledger %d records result of %d: %w", r.Seq, r.Value.Result.Seq, ErrBrokenChain)
	}
	if err := ValidateConfig(r.Value.Result.Config); err != nil {
		return fmt.Errorf("ledger %d: %w", r.Seq, err)
	}
	return verifyCert(verify, contractID, prev.Value.Result.Config, r)
}

func verifyCert(verify SigVerifier, contractID string, cfg UNLConfig, r *Record) error {
	vh := r.Value.Hash()
	seen := make(map[PubKey]bool, len(r.Cert))
	good := 0
	for i := range r.Cert {
		v := &r.Cert[i]
		if seen[v.Signer] || !cfg.Contains(v.Signer) {
			continue
		}
		msg := SignedBytes(contractID, StagePrecommit, r.Seq, r.Round, r.Prev, v.Signer, vh)
		if !verify(v.Signer, msg, v.Sig[:]) {
			return fmt.Errorf("ledger %d vote of %s: %w", r.Seq, v.Signer, ErrBadSignature)
		}
		if len(v.OutputSig) != 0 && !verify(v.Signer, r.Value.Result.OutputHash[:], v.OutputSig) {
			return fmt.Errorf("ledger %d output sig of %s: %w", r.Seq, v.Signer, ErrBadSignature)
		}
		seen[v.Signer] = true
		good++
	}
	if need := CloseQuorum(cfg.Threshold, len(cfg.UNL)); good < need {
		return fmt.Errorf("ledger %d: %d of %d needed votes: %w", r.Seq, good, need, ErrNoQuorum)
	}
	return nil
}

func encodeRecord(e *enc, r *Record) {
	e.u64(r.Seq)
	e.hash(r.Prev)
	e.u32(r.Round)
	encodeValue(e, &r.Value)
	e.u32(uint32(len(r.Cert)))
	for _, v := range r.Cert {
		e.hash(v.Signer)
		e.raw(v.Sig[:])
		e.u8(uint8(len(v.OutputSig)))
		e.raw(v.OutputSig)
	}
}

func decodeRecord(d *dec) *Record {
	r := &Record{}
	r.Seq = d.u64("seq")
	r.Prev = d.hash("prev")
	r.Round = d.u32("round")
	r.Value = decodeValue(d)
	if n := d.count("cert", MaxUNL, 97); n > 0 {
		r.Cert = make([]Vote, n)
		for i := range r.Cert {
			v := &r.Cert[i]
			v.Signer = d.hash("vote signer")
			copy(v.Sig[:], d.take(64, "vote sig"))
			switch n := int(d.u8("vote output sig length")); n {
			case 0:
			case ed25519.SignatureSize:
				v.OutputSig = append([]byte(nil), d.take(n, "vote output sig")...)
			default:
				d.fail("vote output sig length %d", n)
			}
		}
	}
	return r
}

// MarshalBinary encodes the record (the form the ledger store keeps).
func (r *Record) MarshalBinary() ([]byte, error) {
	var e enc
	encodeRecord(&e, r)
	return e.b, nil
}

// UnmarshalBinary decodes a record with every field bounded; it does not verify signatures.
func (r *Record) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	*r = *decodeRecord(&d)
	return d.done("record")
}

// Summary is the ledger as HotPocket's users see it (ledger_created events, lcl, ledger_query).
type Summary struct {
	SeqNo      uint64
	Timestamp  uint64
	Hash       Hash
	PrevHash   Hash
	StateHash  Hash
	ConfigHash Hash // patch.cfg hash
	UserHash   Hash
	InputHash  Hash
	OutputHash Hash
}

// Summary returns the user-facing fields of the record.
func (r *Record) Summary() Summary {
	return Summary{
		SeqNo:      r.Seq,
		Timestamp:  r.Value.Time,
		Hash:       r.Hash(),
		PrevHash:   r.Prev,
		StateHash:  r.Value.Result.StateHash,
		ConfigHash: r.Value.Result.PatchHash,
		UserHash:   UserHash(r.Value.Users),
		InputHash:  InputListHash(r.Value.Inputs),
		OutputHash: r.Value.Result.OutputHash,
	}
}
