package contractexec

import (
	"fmt"
	"testing"
)

func TestParseControlMessage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // fmt of Type/Add/Remove/RemoveAll, or "error"
	}{
		{`{"type":"peer_changeset","add":["a:1"],"remove":["b:2"]}`, `peer_changeset [a:1] [b:2] false`},
		{`{"type":"peer_changeset","add":[],"remove":"*"}`, `peer_changeset [] [] true`},
		{`{"type":"peer_changeset","add":["a:1"]}`, "error"},
		{`{"type":"peer_changeset","remove":[]}`, "error"},
		{`{"type":"peer_changeset","add":"x","remove":[]}`, "error"},
		{`{"type":"peer_changeset","add":[],"remove":"all"}`, "error"},
		{`{"type":"peer_changeset","add":[],"remove":[1]}`, "error"},
		{`{"type":"something_else","x":1}`, `something_else [] [] false`},
		{`{"add":[],"remove":[]}`, "error"},
		{`not json`, "error"},
		{``, "error"},
	} {
		m, err := ParseControlMessage([]byte(tc.in))
		got := "error"
		if err == nil {
			got = fmt.Sprintf("%s %v %v %v", m.Type, m.Add, m.Remove, m.RemoveAll)
			if string(m.Raw) != tc.in {
				t.Errorf("%s: raw %q", tc.in, m.Raw)
			}
		}
		if got != tc.want {
			t.Errorf("%s: got %q (err %v), want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseControlMessage(f *testing.F) {
	f.Add([]byte(`{"type":"peer_changeset","add":["a:1"],"remove":"*"}`))
	f.Add([]byte(`{"type":"x"}`))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		m, err := ParseControlMessage(pkt)
		if err != nil {
			return
		}
		if m.Type == ControlPeerChangeset && m.RemoveAll && len(m.Remove) != 0 {
			t.Fatalf("RemoveAll with a remove list: %+v", m)
		}
	})
}
