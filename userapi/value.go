package userapi

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/hpfs/hpnode/outtree"
)

// Server messages are built once as a small ordered value tree and then serialized for the
// session's protocol, so JSON and BSON can never disagree on which keys a message has or in what
// order. The value kinds are exactly the encodings HotPocket uses (reference §3.3–3.4):
//
//	string, uint64, bool, nil  as in JSON / BSON string, int64, bool, null
//	bin   (hashes, keys, sigs)  JSON lowercase hex string / BSON binary
//	blob  (contract payloads)   JSON string (or raw JSON, see blob.raw) / BSON binary
type (
	kv struct {
		k string
		v any
	}
	doc  []kv
	arr  []any
	bin  []byte
	blob struct {
		b []byte
		// raw lets a payload that is a valid JSON document be embedded as-is in JSON (HotPocket's
		// is_json_string rule, made safe by actually validating it).
		raw bool
	}
)

// encode serializes m for p.
func encode(p Protocol, m doc) ([]byte, error) {
	if p == BSON {
		b, err := bson.Marshal(toBSON(m))
		if err != nil {
			return nil, fmt.Errorf("encode bson: %w", err)
		}
		return b, nil
	}
	return appendJSON(make([]byte, 0, 1024), m), nil
}

func toBSON(v any) any {
	switch x := v.(type) {
	case doc:
		d := make(bson.D, len(x))
		for i, e := range x {
			d[i] = bson.E{Key: e.k, Value: toBSON(e.v)}
		}
		return d
	case arr:
		a := make(bson.A, len(x))
		for i, e := range x {
			a[i] = toBSON(e)
		}
		return a
	case bin:
		return bson.Binary{Subtype: 0, Data: x}
	case blob:
		return bson.Binary{Subtype: 0, Data: x.b}
	case outtree.Elem:
		return toBSON(treeValue(x))
	case uint64:
		return int64(x) // HotPocket's seq numbers and nonces never reach 2^63
	default:
		return v // string, bool, nil
	}
}

func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case doc:
		b = append(b, '{')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, e.k)
			b = append(b, ':')
			b = appendJSON(b, e.v)
		}
		return append(b, '}')
	case arr:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case string:
		return appendJSONString(b, x)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	case bin:
		b = append(b, '"')
		b = hex.AppendEncode(b, x)
		return append(b, '"')
	case outtree.Elem:
		return appendJSONTree(b, &x)
	case blob:
		if x.raw && looksLikeJSON(x.b) {
			return append(b, x.b...)
		}
		return appendJSONString(b, string(x.b))
	}
	panic(fmt.Sprintf("userapi: no JSON encoding for %T", v)) // a bug in a message builder
}

// appendJSONTree writes a collapsed hash tree without building an intermediate value: a round
// with many users encodes one tree per user.
func appendJSONTree(b []byte, t *outtree.Elem) []byte {
	switch {
	case t.IsList:
		b = append(b, '[')
		for i := range t.List {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONTree(b, &t.List[i])
		}
		return append(b, ']')
	case t.Self:
		return append(b, "null"...)
	default:
		b = append(b, '"')
		b = hex.AppendEncode(b, t.Hash[:])
		return append(b, '"')
	}
}

// looksLikeJSON is HotPocket's is_json_string shape test (a "…" string, {…}, […], true, false, or
// digits with at most one '.') with one fix: the payload must also be valid JSON, so a payload
// that merely starts with '{' and ends with '}' is escaped instead of corrupting the message.
func looksLikeJSON(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch first, last := b[0], b[len(b)-1]; {
	case len(b) >= 2 && (first == '"' && last == '"' || first == '{' && last == '}' || first == '[' && last == ']'):
	case string(b) == "true" || string(b) == "false":
		return true
	default:
		dots := 0
		for _, c := range b {
			switch {
			case c == '.':
				dots++
			case c < '0' || c > '9':
				return false
			}
		}
		if dots > 1 {
			return false
		}
	}
	return json.Valid(b)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD: JSON text cannot carry
// it, and the client would decode it the same way.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
