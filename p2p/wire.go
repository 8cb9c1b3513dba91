package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Kind names what a message body holds. Kinds below KindNPL are the mesh's
// own (handshake, discovery, liveness) and never reach a Handler.
type Kind uint8

// Internal kinds.
const (
	kindHello    Kind = 1
	kindAuth     Kind = 2
	kindRefuse   Kind = 3
	kindPeers    Kind = 4
	kindPing     Kind = 5
	kindPong     Kind = 6
	kindRequest  Kind = 7
	kindResponse Kind = 8
	// kindMsgStream is the header frame of a message stream.
	kindMsgStream Kind = 9
)

// Application kinds: payloads the mesh carries for other packages. Any kind
// at or above KindNPL may be given a Handler; the three named ones are the
// kinds the node wires today.
const (
	// KindNPL carries an NPLMessage (this package signs and verifies it).
	KindNPL Kind = 16
	// KindProposal carries a consensus proposal, opaque to this package; the
	// consensus package supplies its Verifier.
	KindProposal Kind = 17
	// KindUserInputs carries a batch of user inputs from a non-UNL node.
	KindUserInputs Kind = 18
)

// Bounds on variable-length fields. Every decoder checks these before it
// looks at the data.
const (
	maxContractIDLen = 128
	maxReasonLen     = 256
	maxAddrLen       = 300
	maxRecordsPerMsg = 256
	maxRespErrLen    = 1024
	// frameOverhead is the most a frame body adds around its payload:
	// version, kind, a request's kind and timeout, and a uvarint length.
	frameOverhead = 32
	// maxControlFrame bounds internal (non-application) frames.
	maxControlFrame = 1 + 1 + 2 + maxRecordsPerMsg*(32+2+maxAddrLen+8+64) + 64
)

// ErrFrameTooLarge is returned when a frame's length prefix exceeds the bound
// of the stream it arrived on. The stream cannot be resynchronised after it.
var ErrFrameTooLarge = errors.New("p2p: frame too large")

// writeFrame writes body with its length prefix in one Write, so that a
// frame is never interleaved with another writer's bytes.
func appendFrame(dst, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// readFrame reads one frame whose body is at most max bytes.
func readFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, bound %d", ErrFrameTooLarge, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("read frame body: %w", err)
	}
	return body, nil
}

// newBody starts a frame body of the given kind.
func newBody(k Kind, sizeHint int) *encoder {
	e := &encoder{b: make([]byte, 0, 2+sizeHint)}
	e.u8(wireVersion)
	e.u8(uint8(k))
	return e
}

// splitBody checks the version and returns the kind and a decoder over the
// kind's fields.
func splitBody(body []byte) (Kind, *decoder, error) {
	d := &decoder{b: body}
	v := d.u8("version")
	k := Kind(d.u8("kind"))
	if d.err != nil {
		return 0, nil, d.err
	}
	if v != wireVersion {
		return 0, nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, wireVersion)
	}
	return k, d, nil
}

// hello opens the handshake from each side. Freshness comes from the
// challenges; UnixMilli is informational (it shows clock skew in logs).
type hello struct {
	ContractID string
	Key        PeerID
	Challenge  [32]byte
	UnixMilli  uint64
}

func (h *hello) encode() []byte {
	e := newBody(kindHello, 128)
	e.bytes([]byte(h.ContractID))
	e.fixed(h.Key[:])
	e.fixed(h.Challenge[:])
	e.u64(h.UnixMilli)
	return e.b
}

func decodeHello(d *decoder) (hello, error) {
	var h hello
	h.ContractID = string(d.bytes("hello.contract_id", maxContractIDLen))
	d.fixed("hello.key", h.Key[:])
	d.fixed("hello.challenge", h.Challenge[:])
	h.UnixMilli = d.u64("hello.time")
	return h, d.finish()
}

// auth proves the sender's key over both challenges (see handshakeDigest).
type auth struct{ Sig [64]byte }

func (a *auth) encode() []byte {
	e := newBody(kindAuth, 64)
	e.fixed(a.Sig[:])
	return e.b
}

func decodeAuth(d *decoder) (auth, error) {
	var a auth
	d.fixed("auth.sig", a.Sig[:])
	return a, d.finish()
}

// RefuseCode says why a peer refused a connection.
type RefuseCode uint8

// Refusal reasons.
const (
	RefuseContractMismatch RefuseCode = 1
	RefuseCapacity         RefuseCode = 2
	RefuseSelf             RefuseCode = 3
	RefuseCutOff           RefuseCode = 4
	RefuseDuplicate        RefuseCode = 5
	RefuseBadHandshake     RefuseCode = 6
)

func (c RefuseCode) String() string {
	switch c {
	case RefuseContractMismatch:
		return "contract id mismatch"
	case RefuseCapacity:
		return "no capacity"
	case RefuseSelf:
		return "connection to self"
	case RefuseCutOff:
		return "peer cut off"
	case RefuseDuplicate:
		return "duplicate connection"
	case RefuseBadHandshake:
		return "bad handshake"
	}
	return fmt.Sprintf("refuse code %d", uint8(c))
}

type refuse struct {
	Code   RefuseCode
	Reason string
}

func (r *refuse) encode() []byte {
	e := newBody(kindRefuse, 8+len(r.Reason))
	e.u8(uint8(r.Code))
	reason := r.Reason
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	e.bytes([]byte(reason))
	return e.b
}

func decodeRefuse(d *decoder) (refuse, error) {
	var r refuse
	r.Code = RefuseCode(d.u8("refuse.code"))
	r.Reason = string(d.bytes("refuse.reason", maxReasonLen))
	return r, d.finish()
}

// peersMsg carries signed peer records (gossip).
type peersMsg struct{ Records []PeerRecord }

func (m *peersMsg) encode() []byte {
	e := newBody(kindPeers, 128*len(m.Records))
	e.u16(uint16(len(m.Records)))
	for i := range m.Records {
		m.Records[i].encodeTo(e)
	}
	return e.b
}

func decodePeers(d *decoder) (peersMsg, error) {
	n := d.u16("peers.count")
	if d.err == nil && n > maxRecordsPerMsg {
		d.fail("peers.count", fmt.Sprintf("%d exceeds bound %d", n, maxRecordsPerMsg))
	}
	var m peersMsg
	for i := 0; i < int(n) && d.err == nil; i++ {
		m.Records = append(m.Records, decodeRecordFrom(d))
	}
	return m, d.finish()
}

// ping and pong measure application-level round-trip time on the control
// stream, queueing included.
type ping struct{ Nonce uint64 }

func (p *ping) encode(k Kind) []byte {
	e := newBody(k, 8)
	e.u64(p.Nonce)
	return e.b
}

func decodePing(d *decoder) (ping, error) {
	var p ping
	p.Nonce = d.u64("ping.nonce")
	return p, d.finish()
}

// appMsg is a message of an application kind.
type appMsg struct {
	Kind    Kind
	Payload []byte
}

func encodeApp(k Kind, payload []byte) []byte {
	e := newBody(k, len(payload)+binary.MaxVarintLen64)
	e.bytes(payload)
	return e.b
}

func decodeApp(k Kind, d *decoder, max int) (appMsg, error) {
	m := appMsg{Kind: k}
	m.Payload = d.bytes("app.payload", max)
	return m, d.finish()
}

// request opens a request stream.
type request struct {
	Kind      Kind
	TimeoutMs uint32
	Body      []byte
}

func (r *request) encode() []byte {
	e := newBody(kindRequest, len(r.Body)+16)
	e.u8(uint8(r.Kind))
	e.u32(r.TimeoutMs)
	e.bytes(r.Body)
	return e.b
}

func decodeRequest(d *decoder, max int) (request, error) {
	var r request
	r.Kind = Kind(d.u8("request.kind"))
	r.TimeoutMs = d.u32("request.timeout")
	r.Body = d.bytes("request.body", max)
	return r, d.finish()
}

// Response statuses.
const (
	respOK        = 0
	respError     = 1
	respNoHandler = 2
	respTooLarge  = 3
	// respRefused answers a request a lane's server could not read (over its bound,
	// malformed); the body is the reason and the lane ends with it (lane.go).
	respRefused = 4
)

// responseHeader precedes a response body, which follows raw on the stream
// so that a large body is written without a second copy.
type responseHeader struct {
	Status uint8
	Length uint64
}

func (h *responseHeader) encode() []byte {
	e := newBody(kindResponse, 9)
	e.u8(h.Status)
	e.u64(h.Length)
	return e.b
}

func decodeResponseHeader(d *decoder) (responseHeader, error) {
	var h responseHeader
	h.Status = d.u8("response.status")
	h.Length = d.u64("response.length")
	return h, d.finish()
}
