package ledger

import (
	"crypto/ed25519"
	"fmt"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/outtree"
)

// Outputs encoding: u32 user count, then per user: 32-byte key, u32 output count, then per output a
// u32 length and the bytes. Bounded on decode like every consensus decoder.
const (
	maxOutputUsers   = consensus.MaxUsers
	maxUserOutputs   = 1 << 16
	maxOutputBytes   = 64 << 20
	maxOutputsRecord = 256 << 20
)

func encodeOutputs(outs []outtree.UserOutputs) []byte {
	var b []byte
	b = appendU32(b, uint32(len(outs)))
	for _, uo := range outs {
		b = append(b, uo.User[:]...)
		b = appendU32(b, uint32(len(uo.Outputs)))
		for _, o := range uo.Outputs {
			b = appendU32(b, uint32(len(o)))
			b = append(b, o...)
		}
	}
	return b
}

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) u32(what string, max int) int {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 4 {
		r.err = fmt.Errorf("outputs: short %s", what)
		return 0
	}
	v := int(r.b[0])<<24 | int(r.b[1])<<16 | int(r.b[2])<<8 | int(r.b[3])
	r.b = r.b[4:]
	if v > max {
		r.err = fmt.Errorf("outputs: %s %d out of bounds", what, v)
		return 0
	}
	return v
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("outputs: short %s", what)
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return append([]byte(nil), p...)
}

// DecodeOutputs decodes stored outputs, rejecting any count or length beyond its bound or beyond the
// remaining input.
func DecodeOutputs(b []byte) ([]outtree.UserOutputs, error) {
	if len(b) > maxOutputsRecord {
		return nil, fmt.Errorf("outputs: %d bytes exceeds %d", len(b), maxOutputsRecord)
	}
	r := &reader{b: b}
	n := r.u32("user count", maxOutputUsers)
	if r.err == nil && n*36 > len(r.b) {
		return nil, fmt.Errorf("outputs: user count %d exceeds input", n)
	}
	var out []outtree.UserOutputs
	for i := 0; i < n && r.err == nil; i++ {
		var uo outtree.UserOutputs
		uo.User = r.take(ed25519.PublicKeySize, "user")
		m := r.u32("output count", maxUserOutputs)
		if r.err == nil && m*4 > len(r.b) {
			return nil, fmt.Errorf("outputs: output count %d exceeds input", m)
		}
		for j := 0; j < m && r.err == nil; j++ {
			l := r.u32("output length", maxOutputBytes)
			uo.Outputs = append(uo.Outputs, r.take(l, "output"))
		}
		out = append(out, uo)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("outputs: %d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

// PutOutputs stores the raw outputs of the execution whose result ledger seq records, after checking
// that they and that result's state hash give the recorded output hash. Served with ledger seq's
// UNLSigs and outtree.Tree.Collapse, they let the user API answer contract_output and ledger_query.
func (s *Store) PutOutputs(seq uint64, outs []outtree.UserOutputs) error {
	r, err := s.Record(seq)
	if err != nil {
		return fmt.Errorf("put outputs: %w", err)
	}
	for _, uo := range outs {
		if len(uo.User) != ed25519.PublicKeySize {
			return fmt.Errorf("put outputs of ledger %d: user key of %d bytes", seq, len(uo.User))
		}
	}
	if got := consensus.Hash(outtree.Of(outs, outtree.Hash(r.Value.Result.StateHash)).Root()); got != r.Value.Result.OutputHash {
		return fmt.Errorf("put outputs of ledger %d: root %s, record has %s", seq, got, r.Value.Result.OutputHash)
	}
	if err := s.db.Set(key(kindOutputs, seq), encodeOutputs(outs), s.writeOpts()); err != nil {
		return fmt.Errorf("put outputs of ledger %d: %w", seq, err)
	}
	return nil
}

// Outputs returns the raw outputs whose root ledger seq records.
func (s *Store) Outputs(seq uint64) ([]outtree.UserOutputs, error) {
	b, err := s.get(key(kindOutputs, seq))
	if err != nil {
		return nil, fmt.Errorf("outputs of ledger %d: %w", seq, err)
	}
	return DecodeOutputs(b)
}
