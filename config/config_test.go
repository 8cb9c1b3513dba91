package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func validConfig(t testing.TB) HPConfig {
	t.Helper()
	pub, priv, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Node.PublicKey, c.Node.PrivateKey = pub, priv
	c.Contract.ID = "3c349abe-4d70-4f50-9fa6-018f1f2530ab"
	c.Contract.UNL = []string{pub}
	return c
}

func TestDefaultWithKeysValidates(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	c := validConfig(t)
	c.Contract.Environment = map[string]string{"A": "1"}
	path := filepath.Join(t.TempDir(), "hp.cfg")
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(c)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("round trip changed config:\n%s\n%s", a, b)
	}
}

// TestParseRejectsBrokenConfig: every broken hp.cfg names the field and the problem.
func TestParseRejectsBrokenConfig(t *testing.T) {
	base := validConfig(t)
	good, _ := json.Marshal(base)
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		raw   string
		field string
	}{
		{name: "roundtime zero", edit: func(m map[string]any) { sub(m, "contract", "consensus")["roundtime"] = 0 }, field: "contract.consensus.roundtime"},
		{name: "threshold 101", edit: func(m map[string]any) { sub(m, "contract", "consensus")["threshold"] = 101 }, field: "contract.consensus.threshold"},
		{name: "roundtime string", edit: func(m map[string]any) { sub(m, "contract", "consensus")["roundtime"] = "fast" }, field: "contract.consensus.roundtime"},
		{name: "unknown field", edit: func(m map[string]any) { sub(m, "mesh")["prot"] = 1 }, field: "prot"},
		{name: "empty unl", edit: func(m map[string]any) { sub(m, "contract")["unl"] = []string{} }, field: "contract.unl"},
		{name: "bad unl key", edit: func(m map[string]any) { sub(m, "contract")["unl"] = []string{"edzz"} }, field: "contract.unl[0]"},
		{name: "duplicate unl key", edit: func(m map[string]any) {
			k := sub(m, "node")["public_key"]
			sub(m, "contract")["unl"] = []any{k, k}
		}, field: "contract.unl[1]"},
		{name: "missing contract id", edit: func(m map[string]any) { sub(m, "contract")["id"] = "" }, field: "contract.id"},
		{name: "key mismatch", edit: func(m map[string]any) {
			pub, _, _ := NewKeyPair()
			sub(m, "node")["public_key"] = pub
		}, field: "node.private_key"},
		{name: "role", edit: func(m map[string]any) { sub(m, "node")["role"] = "king" }, field: "node.role"},
		{name: "peer without port", edit: func(m map[string]any) { sub(m, "mesh")["known_peers"] = []string{"localhost"} }, field: "mesh.known_peers[0]"},
		{name: "user port is the lanes' port", edit: func(m map[string]any) { sub(m, "user")["port"] = sub(m, "mesh")["port"] }, field: "user.port"},
		{name: "read requests 33", edit: func(m map[string]any) { sub(m, "user")["concurrent_read_requests"] = 33 }, field: "user.concurrent_read_requests"},
		{name: "keep fewer ledgers than catch-up gap", edit: func(m map[string]any) { sub(m, "ledger")["keep_ledgers"] = 10 }, field: "ledger.keep_ledgers"},
		{name: "malformed json", raw: `{"hp_version": `, field: ""},
		{name: "trailing data", raw: string(good) + `{}`, field: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.edit != nil {
				var m map[string]any
				if err := json.Unmarshal(good, &m); err != nil {
					t.Fatal(err)
				}
				tc.edit(m)
				data, _ = json.Marshal(m)
			}
			_, err := Parse(data)
			if err == nil {
				t.Fatal("broken config accepted")
			}
			if tc.field == "" {
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %q does not name field %q", err, tc.field)
			}
		})
	}
}

func sub(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func TestLoadRefusesHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hp.cfg")
	if err := os.WriteFile(path, []byte(strings.Repeat(" ", MaxFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v", err)
	}
}

func TestPatchCanonicalIsStableAndParses(t *testing.T) {
	c := validConfig(t)
	c.Contract.Environment = map[string]string{"B": "2", "A": "1"}
	c.Contract.UNL[0] = strings.ToUpper(c.Contract.UNL[0][2:]) // bare upper-case hex: normalized
	p := c.Contract.Patch()
	a, err := p.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Canonical()
	if string(a) != string(b) {
		t.Fatal("canonical bytes differ between calls")
	}
	if !strings.Contains(string(a), `"ed`+strings.ToLower(c.Contract.UNL[0])+`"`) {
		t.Fatalf("UNL not normalized:\n%s", a)
	}
	if strings.Index(string(a), `"A"`) > strings.Index(string(a), `"B"`) {
		t.Fatal("environment keys not sorted")
	}
	got, err := ParsePatch(a)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Canonical()
	if string(again) != string(a) {
		t.Fatal("parse+canonical is not a fixed point")
	}
}

func TestParsePatchRequiresEveryField(t *testing.T) {
	c := validConfig(t)
	p := c.Contract.Patch()
	good, _ := p.Canonical()
	for _, field := range []string{"version", "unl", "bin_path", "bin_args", "environment", "max_input_ledger_offset", "consensus", "npl", "round_limits"} {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		delete(m, field)
		data, _ := json.Marshal(m)
		_, err := ParsePatch(data)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("missing %s: got %v", field, err)
		}
	}
	var m map[string]any
	_ = json.Unmarshal(good, &m)
	delete(m["consensus"].(map[string]any), "threshold")
	data, _ := json.Marshal(m)
	_, err := ParsePatch(data)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "consensus.threshold" {
		t.Errorf("missing consensus.threshold: got %v", err)
	}
}

func TestDeepMergeFollowsJQ(t *testing.T) {
	base := `{"contract":{"bin_path":"x","unl":["a","b"],"consensus":{"roundtime":1000,"threshold":80}},"mesh":{"port":1}}`
	over := `{"contract":{"bin_path":"/usr/bin/node","unl":["c"],"consensus":{"roundtime":2000}},"new":true}`
	out, err := DeepMerge([]byte(base), []byte(over))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(out, &got)
	want := `{"contract":{"bin_path":"/usr/bin/node","consensus":{"roundtime":2000,"threshold":80},"unl":["c"]},"mesh":{"port":1},"new":true}`
	g, _ := json.Marshal(got)
	if string(g) != want {
		t.Fatalf("got  %s\nwant %s", g, want)
	}
	if _, err := DeepMerge([]byte(base), []byte(`{`)); err == nil {
		t.Fatal("malformed override accepted")
	}
}

func FuzzParse(f *testing.F) {
	c := validConfig(f)
	good, _ := json.Marshal(c)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"contract":{"consensus":{"roundtime":-1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid config: %v", err)
		}
	})
}

func FuzzParsePatch(f *testing.F) {
	c := validConfig(f)
	p := c.Contract.Patch()
	good, _ := p.Canonical()
	f.Add(good)
	f.Add([]byte(`{"version":"1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePatch(data)
		if err != nil {
			return
		}
		out, err := p.Canonical()
		if err != nil {
			t.Fatalf("valid patch has no canonical form: %v", err)
		}
		if _, err := ParsePatch(out); err != nil {
			t.Fatalf("canonical form does not parse: %v", err)
		}
	})
}
