package consensus

import (
	"errors"
	"fmt"
)

// MsgType names a message kind. Wire kinds travel between nodes; local kinds are how the caller
// reports to its own node and are never encoded.
type MsgType uint8

// Message kinds.
const (
	// MsgProposal carries a signed stage proposal (wire).
	MsgProposal MsgType = iota + 1
	// MsgInputBatch carries user inputs a node received, for every node to admit (wire; HotPocket's
	// non-UNL proposal).
	MsgInputBatch
	// MsgLedgerRequest asks for the closed ledger Seq (wire; answered to From).
	MsgLedgerRequest
	// MsgLedgerResponse carries a closed ledger with its certificate and raw inputs (wire).
	MsgLedgerResponse

	// MsgSubmit is a local user's inputs (local).
	MsgSubmit
	// MsgExecResult reports the result of an Execution (local).
	MsgExecResult
	// MsgSyncDone reports that the state now matches a SyncTarget, with the resulting Result (local).
	MsgSyncDone
	// MsgUsers sets the users connected to this node, proposed as the round's users (local).
	MsgUsers
)

var msgNames = [...]string{"", "proposal", "input_batch", "ledger_request", "ledger_response", "submit", "exec_result", "sync_done", "users"}

func (t MsgType) String() string {
	if int(t) < len(msgNames) && t != 0 {
		return msgNames[t]
	}
	return fmt.Sprintf("msg(%d)", uint8(t))
}

func (t MsgType) isWire() bool { return t >= MsgProposal && t <= MsgLedgerResponse }

// Message is the single input and output type of a Node, in the manner of etcd raft's pb.Message.
type Message struct {
	Type MsgType
	// From is the transport-level sender of a received message (not encoded; the transport sets it).
	From PubKey
	// To is the destination of an outgoing message; zero means broadcast to every peer.
	To PubKey

	Proposal *Proposal // MsgProposal
	Inputs   []Input   // MsgInputBatch, MsgSubmit, MsgLedgerResponse
	Seq      uint64    // MsgLedgerRequest
	Record   *Record   // MsgLedgerResponse
	Result   *Result   // MsgExecResult, MsgSyncDone
	Users    []PubKey  // MsgUsers
}

// ErrLocalMessage is returned when encoding a local message kind.
var ErrLocalMessage = errors.New("consensus: local message kinds are not encoded")

// MarshalBinary encodes a wire message: one type byte, then the kind's fields.
func (m *Message) MarshalBinary() ([]byte, error) {
	if !m.Type.isWire() {
		return nil, fmt.Errorf("marshal %s: %w", m.Type, ErrLocalMessage)
	}
	e := enc{b: []byte{byte(m.Type)}}
	switch m.Type {
	case MsgProposal:
		if m.Proposal == nil {
			return nil, fmt.Errorf("marshal proposal: nil proposal")
		}
		encodeProposal(&e, m.Proposal)
	case MsgInputBatch:
		encodeInputs(&e, m.Inputs)
	case MsgLedgerRequest:
		e.u64(m.Seq)
	case MsgLedgerResponse:
		if m.Record == nil {
			return nil, fmt.Errorf("marshal ledger response: nil record")
		}
		encodeRecord(&e, m.Record)
		encodeInputs(&e, m.Inputs)
	}
	return e.b, nil
}

func encodeInputs(e *enc, ins []Input) {
	e.u32(uint32(len(ins)))
	for i := range ins {
		encodeInput(e, &ins[i])
	}
}

func decodeInputs(d *dec) []Input {
	n := d.count("inputs", MaxBatchInputs, 32+8+8+1+4+64)
	if n == 0 {
		return nil
	}
	out := make([]Input, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, decodeInput(d))
	}
	return out
}

// UnmarshalBinary decodes a wire message with strict bounds on every field. It verifies no
// signature (Node.Step and ProposalSigner do).
func (m *Message) UnmarshalBinary(b []byte) error {
	*m = Message{}
	if len(b) > MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxMessageBytes)
	}
	d := dec{b: b}
	m.Type = MsgType(d.u8("type"))
	if d.err == nil && !m.Type.isWire() {
		d.fail("message type %d", uint8(m.Type))
	}
	if d.err != nil {
		return d.err
	}
	switch m.Type {
	case MsgProposal:
		m.Proposal = decodeProposal(&d)
	case MsgInputBatch:
		m.Inputs = decodeInputs(&d)
	case MsgLedgerRequest:
		m.Seq = d.u64("seq")
	case MsgLedgerResponse:
		m.Record = decodeRecord(&d)
		m.Inputs = decodeInputs(&d)
	}
	if err := d.done(m.Type.String()); err != nil {
		*m = Message{}
		return err
	}
	return nil
}
