package node

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hpfs/hpnode/consensus"
)

func TestFetchCodecRoundTrip(t *testing.T) {
	from, count, err := decodeFetchRequest(encodeFetchRequest(42, 7))
	if err != nil || from != 42 || count != 7 {
		t.Fatalf("request round trip: %d %d %v", from, count, err)
	}
	g := consensus.Genesis(0, consensus.Result{Config: consensus.UNLConfig{UNL: []consensus.PubKey{{1}}, Threshold: 80}})
	in := []consensus.Decided{{Record: g}}
	b, err := encodeFetchResponse(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeFetchResponse(b)
	if err != nil || len(out) != 1 || out[0].Record.Hash() != g.Hash() {
		t.Fatalf("response round trip: %v %v", out, err)
	}
}

func TestFetchCodecRejectsMalformed(t *testing.T) {
	g := consensus.Genesis(0, consensus.Result{Config: consensus.UNLConfig{UNL: []consensus.PubKey{{1}}, Threshold: 80}})
	good, _ := encodeFetchResponse([]consensus.Decided{{Record: g}})
	cases := map[string][]byte{
		"empty":            nil,
		"bad version":      append([]byte{9}, good[1:]...),
		"count too large":  {fetchVersion, 0xff, 0xff, 0xff, 0xff},
		"truncated length": good[:7],
		"truncated ledger": good[:len(good)-1],
		"trailing bytes":   append(append([]byte(nil), good...), 0),
		"claims more":      append([]byte{fetchVersion, 0, 0, 0, 2}, good[5:]...),
	}
	for name, b := range cases {
		if _, err := decodeFetchResponse(b); !errors.Is(err, errBadFetch) {
			t.Errorf("%s: got %v, want errBadFetch", name, err)
		}
	}
	for name, b := range map[string][]byte{
		"short":    {fetchVersion, 1},
		"version":  append([]byte{2}, encodeFetchRequest(1, 1)[1:]...),
		"too many": encodeFetchRequest(1, maxFetch+1),
		"long":     append(encodeFetchRequest(1, 1), 0),
	} {
		if _, _, err := decodeFetchRequest(b); !errors.Is(err, errBadFetch) {
			t.Errorf("request %s: got %v, want errBadFetch", name, err)
		}
	}
}

func FuzzDecodeFetchResponse(f *testing.F) {
	g := consensus.Genesis(0, consensus.Result{Config: consensus.UNLConfig{UNL: []consensus.PubKey{{1}}, Threshold: 80}})
	good, _ := encodeFetchResponse([]consensus.Decided{{Record: g}, {Record: g}})
	f.Add(good)
	f.Add([]byte{fetchVersion, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := decodeFetchResponse(b)
		if err != nil {
			return
		}
		again, err := encodeFetchResponse(ds)
		if err != nil {
			t.Fatalf("decoded ledgers do not encode: %v", err)
		}
		if _, err := decodeFetchResponse(again); err != nil {
			t.Fatalf("re-encoded response does not decode: %v", err)
		}
		_ = bytes.Equal(again, b)
	})
}

func FuzzDecodeFetchRequest(f *testing.F) {
	f.Add(encodeFetchRequest(fetchTip, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		from, count, err := decodeFetchRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeFetchRequest(from, count), b) {
			t.Fatal("request does not re-encode to the same bytes")
		}
	})
}
