package hpfs

import "testing"

func TestParseRequestLog(t *testing.T) {
	for _, tc := range []struct {
		line, op, node string
		ok             bool
	}{
		{"2026/11/23 rx 42: CREATE n7 {Fh 0} [\"f1\"]", "CREATE", "n7", true},
		{"rx 9: STATFS n1", "STATFS", "n1", true},
		{"rx 10: INIT", "INIT", "", true},
		{"tx 42:     OK, {n8 g1 tE=1m0s}", "", "", false},
		{"rx 11:", "", "", false},
		{"rx no colon", "", "", false},
		{"", "", "", false},
	} {
		op, node, ok := ParseRequestLog([]byte(tc.line))
		if op != tc.op || node != tc.node || ok != tc.ok {
			t.Errorf("%q: %q %q %v, want %q %q %v", tc.line, op, node, ok, tc.op, tc.node, tc.ok)
		}
	}
}

func FuzzParseRequestLog(f *testing.F) {
	f.Add([]byte("rx 42: CREATE n7 {Fh 0}"))
	f.Add([]byte("rx : "))
	f.Fuzz(func(t *testing.T, line []byte) {
		op, node, ok := ParseRequestLog(line)
		if !ok && (op != "" || node != "") {
			t.Fatal("fields for a line that is not a request")
		}
		if ok && op == "" {
			t.Fatal("a request without an opcode")
		}
	})
}
