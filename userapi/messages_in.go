package userapi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Client → server messages (reference §3.2–3.3), decoded strictly: exact key names, exact value
// types, no panics on any input (every decoder is fuzzed).

// Message types a client may send after the handshake.
const (
	msgContractInput = "contract_input"
	msgReadRequest   = "contract_read_request"
	msgStat          = "stat"
	msgLCL           = "lcl"
	msgSubscription  = "subscription"
	msgLedgerQuery   = "ledger_query"
)

// Subscription channels.
const (
	ChannelUNLChange   = "unl_change"
	ChannelLedgerEvent = "ledger_event"
	ChannelHealthEvent = "health_event"
)

var (
	// errBadFormat is a message that is not a well-formed document of its type.
	errBadFormat = errors.New("bad message format")
	// errUnknownType is a well-formed document whose type is not one the server knows.
	errUnknownType = errors.New("unknown message type")
)

// clientMsg is any post-handshake client message; only the fields of its Type are set.
type clientMsg struct {
	Type string

	// contract_input
	Container []byte
	Sig       []byte // nil if the sig field was not a byte string of the right encoding

	// contract_read_request and ledger_query
	ID      string
	Content []byte

	// subscription
	Channel string
	Enabled bool

	// ledger_query (filter_by is always "seq_no")
	Seq                           uint64
	IncludeInputs, IncludeOutputs bool
}

// userChallengeResponse is the client's handshake reply (always JSON).
type userChallengeResponse struct {
	Sig             []byte
	PubKey          []byte
	ServerChallenge string
	HasServerChal   bool
	Protocol        Protocol
}

// jsonDoc parses one JSON object with exact (case-sensitive) keys.
func jsonDoc(data []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", errBadFormat)
	}
	if len(bytes.TrimSpace(data[d.InputOffset():])) != 0 {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", errBadFormat)
	}
	return m, nil
}

func jsonString(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok {
		return "", fmt.Errorf("%w: missing %q", errBadFormat, key)
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%w: %q is not a string", errBadFormat, key)
	}
	return s, nil
}

// jsonUint accepts only a plain non-negative integer literal (what JSON.stringify writes for a
// safe integer), so 1e3, 1.0 and -1 are rejected rather than rounded.
func jsonUint(m map[string]json.RawMessage, key string) (uint64, error) {
	raw, ok := m[key]
	if !ok {
		return 0, fmt.Errorf("%w: missing %q", errBadFormat, key)
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not an unsigned integer", errBadFormat, key)
	}
	return v, nil
}

func jsonHex(m map[string]json.RawMessage, key string) ([]byte, error) {
	s, err := jsonString(m, key)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not hex", errBadFormat, key)
	}
	return b, nil
}

// decodeUserChallengeResponse parses the handshake reply.
func decodeUserChallengeResponse(data []byte) (userChallengeResponse, error) {
	var r userChallengeResponse
	m, err := jsonDoc(data)
	if err != nil {
		return r, err
	}
	if t, err := jsonString(m, "type"); err != nil || t != "user_challenge_response" {
		return r, fmt.Errorf("%w: want type user_challenge_response", errBadFormat)
	}
	if r.Sig, err = jsonHex(m, "sig"); err != nil {
		return r, err
	}
	if r.PubKey, err = jsonHex(m, "pubkey"); err != nil {
		return r, err
	}
	if _, ok := m["server_challenge"]; ok {
		if r.ServerChallenge, err = jsonString(m, "server_challenge"); err != nil {
			return r, err
		}
		r.HasServerChal = true
	}
	proto, err := jsonString(m, "protocol")
	if err != nil {
		return r, err
	}
	switch proto {
	case "json":
		r.Protocol = JSON
	case "bson":
		r.Protocol = BSON
	default:
		return r, fmt.Errorf("%w: unknown protocol %.16q", errBadFormat, proto)
	}
	return r, nil
}

// decodeClientMsg parses a post-handshake message in protocol p.
func decodeClientMsg(p Protocol, data []byte) (clientMsg, error) {
	if p == BSON {
		return decodeBSONMsg(data)
	}
	return decodeJSONMsg(data)
}

func decodeJSONMsg(data []byte) (clientMsg, error) {
	var c clientMsg
	m, err := jsonDoc(data)
	if err != nil {
		return c, err
	}
	if c.Type, err = jsonString(m, "type"); err != nil {
		return c, err
	}
	switch c.Type {
	case msgContractInput:
		s, err := jsonString(m, "input_container")
		if err != nil {
			return c, err
		}
		c.Container = []byte(s)
		// A sig that is not hex is still a well-formed message: it is reported as bad_sig.
		if sig, err := jsonHex(m, "sig"); err == nil {
			c.Sig = sig
		} else if _, err := jsonString(m, "sig"); err != nil {
			return c, err
		}
	case msgReadRequest:
		if c.ID, err = jsonString(m, "id"); err != nil {
			return c, err
		}
		s, err := jsonString(m, "content")
		if err != nil {
			return c, err
		}
		c.Content = []byte(s)
	case msgStat, msgLCL:
	case msgSubscription:
		if c.Channel, err = jsonString(m, "channel"); err != nil {
			return c, err
		}
		if err := json.Unmarshal(m["enabled"], &c.Enabled); err != nil || m["enabled"] == nil {
			return c, fmt.Errorf("%w: \"enabled\" is not a bool", errBadFormat)
		}
	case msgLedgerQuery:
		if c.ID, err = jsonString(m, "id"); err != nil {
			return c, err
		}
		if f, err := jsonString(m, "filter_by"); err != nil || f != "seq_no" {
			return c, fmt.Errorf("%w: filter_by must be \"seq_no\"", errBadFormat)
		}
		params, err := jsonDoc(m["params"])
		if err != nil {
			return c, fmt.Errorf("%w: params is not an object", errBadFormat)
		}
		if c.Seq, err = jsonUint(params, "seq_no"); err != nil {
			return c, err
		}
		var include []string
		if err := json.Unmarshal(m["include"], &include); err != nil || m["include"] == nil {
			return c, fmt.Errorf("%w: include is not an array of strings", errBadFormat)
		}
		if err := c.setIncludes(include); err != nil {
			return c, err
		}
	default:
		return c, fmt.Errorf("%w: %.32q", errUnknownType, c.Type)
	}
	return c, nil
}

func (c *clientMsg) setIncludes(include []string) error {
	for _, s := range include {
		switch s {
		case "inputs":
			c.IncludeInputs = true
		case "outputs":
			c.IncludeOutputs = true
		default:
			return fmt.Errorf("%w: unknown include %.16q", errBadFormat, s)
		}
	}
	if c.ID == "" {
		return fmt.Errorf("%w: empty ledger query id", errBadFormat)
	}
	return nil
}

// bsonDoc validates data as exactly one BSON document.
func bsonDoc(data []byte) (bson.Raw, error) {
	if len(data) < 5 || int(uint32(data[0])|uint32(data[1])<<8|uint32(data[2])<<16|uint32(data[3])<<24) != len(data) {
		return nil, fmt.Errorf("%w: not one BSON document", errBadFormat)
	}
	r := bson.Raw(data)
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadFormat, err)
	}
	return r, nil
}

func bsonString(r bson.Raw, key string) (string, error) {
	v, err := r.LookupErr(key)
	if err != nil {
		return "", fmt.Errorf("%w: missing %q", errBadFormat, key)
	}
	s, ok := v.StringValueOK()
	if !ok {
		return "", fmt.Errorf("%w: %q is not a string", errBadFormat, key)
	}
	return s, nil
}

// bsonBytes accepts binary (what the client sends for Buffers) or a string.
func bsonBytes(r bson.Raw, key string) ([]byte, error) {
	v, err := r.LookupErr(key)
	if err != nil {
		return nil, fmt.Errorf("%w: missing %q", errBadFormat, key)
	}
	if _, b, ok := v.BinaryOK(); ok {
		return b, nil
	}
	if s, ok := v.StringValueOK(); ok {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("%w: %q is not binary", errBadFormat, key)
}

// bsonUint accepts int64 (the client's bson.Long) or int32, non-negative.
func bsonUint(r bson.Raw, key string) (uint64, error) {
	v, err := r.LookupErr(key)
	if err != nil {
		return 0, fmt.Errorf("%w: missing %q", errBadFormat, key)
	}
	if i, ok := v.Int64OK(); ok && i >= 0 {
		return uint64(i), nil
	}
	if i, ok := v.Int32OK(); ok && i >= 0 {
		return uint64(i), nil
	}
	return 0, fmt.Errorf("%w: %q is not a non-negative integer", errBadFormat, key)
}

func decodeBSONMsg(data []byte) (clientMsg, error) {
	var c clientMsg
	r, err := bsonDoc(data)
	if err != nil {
		return c, err
	}
	if c.Type, err = bsonString(r, "type"); err != nil {
		return c, err
	}
	switch c.Type {
	case msgContractInput:
		if c.Container, err = bsonBytes(r, "input_container"); err != nil {
			return c, err
		}
		if c.Sig, err = bsonBytes(r, "sig"); err != nil {
			return c, err
		}
	case msgReadRequest:
		if c.ID, err = bsonString(r, "id"); err != nil {
			return c, err
		}
		if c.Content, err = bsonBytes(r, "content"); err != nil {
			return c, err
		}
	case msgStat, msgLCL:
	case msgSubscription:
		if c.Channel, err = bsonString(r, "channel"); err != nil {
			return c, err
		}
		v, err := r.LookupErr("enabled")
		var ok bool
		if err == nil {
			c.Enabled, ok = v.BooleanOK()
		}
		if !ok {
			return c, fmt.Errorf("%w: \"enabled\" is not a bool", errBadFormat)
		}
	case msgLedgerQuery:
		if c.ID, err = bsonString(r, "id"); err != nil {
			return c, err
		}
		if f, err := bsonString(r, "filter_by"); err != nil || f != "seq_no" {
			return c, fmt.Errorf("%w: filter_by must be \"seq_no\"", errBadFormat)
		}
		params, ok := r.Lookup("params").DocumentOK() // a missing key is the zero RawValue: !ok
		if !ok {
			return c, fmt.Errorf("%w: params is not a document", errBadFormat)
		}
		if c.Seq, err = bsonUint(params, "seq_no"); err != nil {
			return c, err
		}
		ia, ok := r.Lookup("include").ArrayOK()
		if !ok {
			return c, fmt.Errorf("%w: include is not an array", errBadFormat)
		}
		vals, err := ia.Values()
		if err != nil {
			return c, fmt.Errorf("%w: include: %v", errBadFormat, err)
		}
		include := make([]string, len(vals))
		for i, v := range vals {
			s, ok := v.StringValueOK()
			if !ok {
				return c, fmt.Errorf("%w: include is not an array of strings", errBadFormat)
			}
			include[i] = s
		}
		if err := c.setIncludes(include); err != nil {
			return c, err
		}
	default:
		return c, fmt.Errorf("%w: %.32q", errUnknownType, c.Type)
	}
	return c, nil
}

// inputContainer is the signed part of a contract_input.
type inputContainer struct {
	Data         []byte
	Nonce        uint64
	MaxLedgerSeq uint64
}

// decodeInputContainer parses the signed input_container: in JSON a JSON object text with a string
// input, in BSON a BSON document with a binary input; nonce and max_ledger_seq_no unsigned
// integers. A zero nonce is rejected (HotPocket requires nonce > 0).
func decodeInputContainer(p Protocol, data []byte) (inputContainer, error) {
	var in inputContainer
	var err error
	if p == BSON {
		r, err := bsonDoc(data)
		if err != nil {
			return in, err
		}
		if in.Data, err = bsonBytes(r, "input"); err != nil {
			return in, err
		}
		if in.Nonce, err = bsonUint(r, "nonce"); err != nil {
			return in, err
		}
		if in.MaxLedgerSeq, err = bsonUint(r, "max_ledger_seq_no"); err != nil {
			return in, err
		}
	} else {
		m, err := jsonDoc(data)
		if err != nil {
			return in, err
		}
		s, err := jsonString(m, "input")
		if err != nil {
			return in, err
		}
		in.Data = []byte(s)
		if in.Nonce, err = jsonUint(m, "nonce"); err != nil {
			return in, err
		}
		if in.MaxLedgerSeq, err = jsonUint(m, "max_ledger_seq_no"); err != nil {
			return in, err
		}
	}
	if in.Nonce == 0 {
		return in, fmt.Errorf("%w: nonce must be > 0", errBadFormat)
	}
	return in, err
}
