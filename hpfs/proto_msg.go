package hpfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// FrameRequest is one binary-mode request (see proto_frame.go for the layout).
type FrameRequest struct {
	Op FrameOp
	// Kind is the proof kind of an apply-proof (zero otherwise).
	Kind ProofKind
	// Base is the change proof's old root (change-proof, apply-proof of a change proof).
	Base merkle.Hash
	// Root is the proven root (range-proof, change-proof) or the sync target (apply-proof,
	// sync.begin).
	Root merkle.Hash
	// Start and End are the range (End nil: to the end of the key space).
	Start, End merkle.Key
	// MaxEntries and MaxBytes limit a proof being built (0: the defaults).
	MaxEntries, MaxBytes uint32
	// Proof is the marshalled proof of an apply-proof.
	Proof []byte
	// Shared says the proof lies in the connection's shared region (FrameShare) instead of
	// the frame: an apply-proof's at [SharedOff, SharedOff+SharedLen); a range or change proof
	// being built is written from SharedOff when it fits, else sent in the frame.
	Shared               bool
	SharedOff, SharedLen uint32
}

const (
	flagEnd      = 1
	flagFallback = 2 // proof results
	flagBase     = 2 // remaining ranges
	flagComplete = 2 // proof summaries
	flagShared   = 4 // requests and proof results: the proof is in the shared region
)

// appendHead appends the request's fields before the proof, so a client can send the proof
// bytes from their own buffer.
func (q *FrameRequest) appendHead(b []byte) ([]byte, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	var flags byte
	if q.End != nil {
		flags |= flagEnd
	}
	if q.Shared {
		flags |= flagShared
	}
	b = append(b, byte(q.Op), byte(q.Kind), flags)
	b = append(b, q.Base[:]...)
	b = append(b, q.Root[:]...)
	b = binary.BigEndian.AppendUint32(b, q.MaxEntries)
	b = binary.BigEndian.AppendUint32(b, q.MaxBytes)
	b = appendKey(b, q.Start)
	if q.End != nil {
		b = appendKey(b, q.End)
	}
	if q.Shared {
		b = binary.BigEndian.AppendUint32(b, q.SharedOff)
		if q.Op == FrameApplyProof {
			b = binary.BigEndian.AppendUint32(b, q.SharedLen)
		}
	}
	return b, nil
}

// MarshalBinary encodes the request body.
func (q *FrameRequest) MarshalBinary() ([]byte, error) {
	b, err := q.appendHead(make([]byte, 0, 80+len(q.Start)+len(q.End)+len(q.Proof)))
	if err != nil {
		return nil, err
	}
	return append(b, q.Proof...), nil
}

func (q *FrameRequest) validate() error {
	switch q.Op {
	case FrameRangeProof, FrameChangeProof, FrameSyncBegin:
		if q.Kind != 0 || len(q.Proof) != 0 {
			return fmt.Errorf("%w: %s carries a proof kind or proof", ErrMalformedFrame, q.Op)
		}
		if q.Shared && q.Op == FrameSyncBegin {
			return fmt.Errorf("%w: sync.begin with a shared proof", ErrMalformedFrame)
		}
	case FrameApplyProof:
		if q.Kind != KindRange && q.Kind != KindChange {
			return fmt.Errorf("%w: apply-proof of %s", ErrMalformedFrame, q.Kind)
		}
		if q.Shared && len(q.Proof) != 0 {
			return fmt.Errorf("%w: apply-proof with a proof both shared and in the frame", ErrMalformedFrame)
		}
	case FrameShare:
		if q.Kind != 0 || len(q.Proof) != 0 || q.Shared {
			return fmt.Errorf("%w: share carries a proof kind, proof or shared proof", ErrMalformedFrame)
		}
		if q.MaxBytes == 0 || q.MaxBytes > MaxSharedBytes {
			return fmt.Errorf("%w: shared region of %d bytes (1 to %d)", ErrMalformedFrame, q.MaxBytes, MaxSharedBytes)
		}
	default:
		return fmt.Errorf("%w: unknown %s", ErrMalformedFrame, q.Op)
	}
	if len(q.Start) > MaxFrameKeyLen || len(q.End) > MaxFrameKeyLen {
		return fmt.Errorf("%w: key longer than %d bytes", ErrMalformedFrame, MaxFrameKeyLen)
	}
	return nil
}

// UnmarshalBinary decodes a request body. Proof aliases b; the keys are copies.
func (q *FrameRequest) UnmarshalBinary(b []byte) error {
	r := frameReader{b: b}
	*q = FrameRequest{Op: FrameOp(r.u8("op")), Kind: ProofKind(r.u8("kind"))}
	flags := r.u8("flags")
	q.Base = r.hash("base")
	q.Root = r.hash("root")
	q.MaxEntries = r.u32("max entries")
	q.MaxBytes = r.u32("max bytes")
	q.Start = r.key("start")
	if flags&flagEnd != 0 {
		q.End = r.key("end")
	}
	if r.err == nil && flags&^(flagEnd|flagShared) != 0 {
		r.fail("unknown request flags %#x", flags)
	}
	if q.Shared = flags&flagShared != 0; q.Shared {
		q.SharedOff = r.u32("shared offset")
		if q.Op == FrameApplyProof {
			q.SharedLen = r.u32("shared length")
		}
	}
	if q.Proof = r.rest(); len(q.Proof) == 0 {
		q.Proof = nil
	}
	if r.err != nil {
		return r.err
	}
	return q.validate()
}

// FrameResponse is one binary-mode response. Which fields are set depends on the request's op.
type FrameResponse struct {
	Status FrameStatus
	// Message explains a non-OK status.
	Message string
	// Proof results: the marshalled proof, its end (nil: end of key space), and whether a
	// change proof fell back to a range proof.
	Proof    []byte
	End      merkle.Key
	Fallback bool
	// Shared says a proof result was written to the connection's shared region at the
	// request's SharedOff, SharedLen bytes of it (Proof then aliases the region on the client
	// side); for share, SharedLen is the region's size.
	Shared    bool
	SharedLen uint32
	// Sync is the result of apply-proof and sync.begin.
	Sync SyncStatus

	// proofParts, when set on the serving side, is Proof as the pieces of one writev
	// (sync_parts.go): the daemon writes a proof without marshalling it into one buffer.
	proofParts [][]byte
	// buf, on the client side, is the buffer a response read with room around it lies in.
	buf []byte
}

// Err returns the error a non-OK response stands for, wrapping the matching sentinel.
func (p *FrameResponse) Err() error {
	var sentinel error
	switch p.Status {
	case StatusOK:
		return nil
	case StatusUnknownVersion:
		sentinel = ErrUnknownVersion
	case StatusProofRejected:
		sentinel = ErrProofRejected
	case StatusSessionOpen:
		sentinel = ErrSessionOpen
	case StatusSyncAborted:
		sentinel = ErrSyncAborted
	default:
		return fmt.Errorf("hpfsd: %s", p.Message)
	}
	return fmt.Errorf("hpfsd: %s: %w", p.Message, sentinel)
}

// errorResponse classifies err for the wire.
func errorResponse(err error) *FrameResponse {
	st := StatusError
	switch {
	case errors.Is(err, ErrUnknownVersion):
		st = StatusUnknownVersion
	case errors.Is(err, ErrProofRejected):
		st = StatusProofRejected
	case errors.Is(err, ErrSessionOpen):
		st = StatusSessionOpen
	case errors.Is(err, ErrSyncAborted):
		st = StatusSyncAborted
	}
	return &FrameResponse{Status: st, Message: err.Error()}
}

// appendHead appends the response for op up to (not including) the proof bytes.
func (p *FrameResponse) appendHead(op FrameOp, b []byte) ([]byte, error) {
	b = append(b, byte(p.Status))
	if p.Status != StatusOK {
		return append(b, p.Message...), nil
	}
	switch op {
	case FrameRangeProof, FrameChangeProof:
		var flags byte
		if p.End != nil {
			flags |= flagEnd
		}
		if p.Fallback {
			flags |= flagFallback
		}
		if p.Shared {
			flags |= flagShared
		}
		if len(p.End) > MaxFrameKeyLen {
			return nil, fmt.Errorf("%w: end key longer than %d bytes", ErrMalformedFrame, MaxFrameKeyLen)
		}
		b = append(b, flags)
		if p.End != nil {
			b = appendKey(b, p.End)
		}
		if p.Shared {
			b = binary.BigEndian.AppendUint32(b, p.SharedLen)
		}
		return b, nil
	case FrameShare:
		return binary.BigEndian.AppendUint32(b, p.SharedLen), nil
	case FrameApplyProof, FrameSyncBegin:
		if p.Sync.Done {
			b = append(b, 1)
			b = binary.BigEndian.AppendUint64(b, p.Sync.Version.Seq)
			b = append(b, p.Sync.Version.Root[:]...)
			b = binary.BigEndian.AppendUint64(b, uint64(p.Sync.Version.Time.UnixNano()))
			return p.appendProved(op, b)
		}
		b = append(b, 0)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.Sync.Remaining)))
		for _, kr := range p.Sync.Remaining {
			if len(kr.Start) > MaxFrameKeyLen || len(kr.End) > MaxFrameKeyLen {
				return nil, fmt.Errorf("%w: range key longer than %d bytes", ErrMalformedFrame, MaxFrameKeyLen)
			}
			var flags byte
			if kr.End != nil {
				flags |= flagEnd
			}
			if !kr.Base.IsZero() {
				flags |= flagBase
			}
			b = append(b, flags)
			b = appendKey(b, kr.Start)
			if kr.End != nil {
				b = appendKey(b, kr.End)
			}
			if !kr.Base.IsZero() {
				b = append(b, kr.Base[:]...)
			}
		}
		return p.appendProved(op, b)
	}
	return nil, fmt.Errorf("%w: unknown %s", ErrMalformedFrame, op)
}

// appendProved appends an apply-proof's summary of the proof (no bytes for sync.begin).
func (p *FrameResponse) appendProved(op FrameOp, b []byte) ([]byte, error) {
	if op != FrameApplyProof {
		return b, nil
	}
	pr := p.Sync.Proved
	if pr == nil {
		return nil, fmt.Errorf("%w: apply-proof result without its proof summary", ErrMalformedFrame)
	}
	if len(pr.End) > MaxFrameKeyLen {
		return nil, fmt.Errorf("%w: proof end longer than %d bytes", ErrMalformedFrame, MaxFrameKeyLen)
	}
	var flags byte
	if pr.End != nil {
		flags |= flagEnd
	}
	if pr.Complete {
		flags |= flagComplete
	}
	b = append(b, flags)
	if pr.End != nil {
		b = appendKey(b, pr.End)
	}
	b = binary.BigEndian.AppendUint64(b, pr.Entries)
	return binary.BigEndian.AppendUint64(b, pr.Bytes), nil
}

// readProved decodes what appendProved wrote.
func (r *frameReader) proved() *Proved {
	flags := r.u8("proof flags")
	pr := &Proved{Complete: flags&flagComplete != 0}
	if flags&flagEnd != 0 {
		pr.End = merkle.Key(r.key("proof end"))
	}
	if r.err == nil && flags&^(flagEnd|flagComplete) != 0 {
		r.fail("unknown proof flags %#x", flags)
	}
	pr.Entries = r.u64("proof entries")
	pr.Bytes = r.u64("proof bytes")
	return pr
}

// MarshalBinary encodes the response to a request of op.
func (p *FrameResponse) MarshalBinary(op FrameOp) ([]byte, error) {
	b, err := p.appendHead(op, nil)
	if err != nil {
		return nil, err
	}
	if p.Status == StatusOK && (op == FrameRangeProof || op == FrameChangeProof) && !p.Shared {
		b = append(b, p.Proof...)
		for _, part := range p.proofParts {
			b = append(b, part...)
		}
	}
	return b, nil
}

// minRangeBytes is the smallest encoding of one remaining range (flags and an empty start).
const minRangeBytes = 5

// UnmarshalBinary decodes the response to a request of op. Proof aliases b; keys are copies.
func (p *FrameResponse) UnmarshalBinary(op FrameOp, b []byte) error {
	r := frameReader{b: b}
	*p = FrameResponse{Status: FrameStatus(r.u8("status"))}
	if r.err != nil {
		return r.err
	}
	if p.Status != StatusOK {
		if p.Status > StatusSyncAborted {
			return fmt.Errorf("%w: unknown status %d", ErrMalformedFrame, p.Status)
		}
		p.Message = string(r.rest())
		return nil
	}
	switch op {
	case FrameRangeProof, FrameChangeProof:
		flags := r.u8("flags")
		if flags&flagEnd != 0 {
			p.End = r.key("end")
		}
		if r.err == nil && flags&^(flagEnd|flagFallback|flagShared) != 0 {
			r.fail("unknown proof flags %#x", flags)
		}
		if r.err == nil && flags&flagFallback != 0 && op != FrameChangeProof {
			r.fail("a range proof marked fallback")
		}
		p.Fallback = flags&flagFallback != 0
		if p.Shared = flags&flagShared != 0; p.Shared {
			p.SharedLen = r.u32("shared proof length")
			return r.done("shared proof result")
		}
		p.Proof = r.rest()
		return r.err
	case FrameShare:
		p.SharedLen = r.u32("shared region size")
		if r.err == nil && (p.SharedLen == 0 || p.SharedLen > MaxSharedBytes) {
			r.fail("shared region of %d bytes (1 to %d)", p.SharedLen, MaxSharedBytes)
		}
		return r.done("share result")
	case FrameApplyProof, FrameSyncBegin:
		switch done := r.u8("done"); {
		case r.err != nil:
		case done == 1:
			p.Sync.Done = true
			p.Sync.Version.Seq = r.u64("seq")
			p.Sync.Version.Root = r.hash("root")
			p.Sync.Version.Time = time.Unix(0, int64(r.u64("time"))).UTC()
		case done == 0:
			n := r.u32("range count")
			if r.err == nil && uint64(n)*minRangeBytes > uint64(len(r.b)) {
				r.fail("%d ranges in %d bytes", n, len(r.b))
			}
			for i := uint32(0); i < n && r.err == nil; i++ {
				flags := r.u8("range flags")
				kr := merkle.KeyRange{Start: merkle.Key(r.key("range start"))}
				if flags&flagEnd != 0 {
					kr.End = merkle.Key(r.key("range end"))
				}
				if flags&flagBase != 0 {
					kr.Base = r.hash("range base")
					if r.err == nil && kr.Base.IsZero() {
						r.fail("range with a zero base")
					}
				}
				if r.err == nil && flags&^(flagEnd|flagBase) != 0 {
					r.fail("unknown range flags %#x", flags)
				}
				p.Sync.Remaining = append(p.Sync.Remaining, kr)
			}
			if r.err == nil && n == 0 {
				r.fail("not done, yet nothing remains")
			}
		default:
			r.fail("done byte %d", done)
		}
		if op == FrameApplyProof && r.err == nil {
			p.Sync.Proved = r.proved()
		}
		return r.done("sync status")
	}
	return fmt.Errorf("%w: unknown %s", ErrMalformedFrame, op)
}
