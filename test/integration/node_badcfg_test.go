package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpfs/hpnode/nodedir"
)

// TestRunRefusesBrokenConfig: `hpnode run` on a broken hp.cfg exits non-zero with a message that
// names the field and the problem, before starting anything.
func TestRunRefusesBrokenConfig(t *testing.T) {
	bin := binaries(t)
	cases := []struct {
		name, field string
		edit        func(m map[string]any)
	}{
		{"roundtime", "contract.consensus.roundtime", func(m map[string]any) {
			m["contract"].(map[string]any)["consensus"].(map[string]any)["roundtime"] = 0
		}},
		{"unknown field", "mesh.prot", func(m map[string]any) { m["mesh"].(map[string]any)["prot"] = 1 }},
		{"bad peer", "mesh.known_peers[0]", func(m map[string]any) { m["mesh"].(map[string]any)["known_peers"] = []string{"nope"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "n")
			if out, err := exec.Command(filepath.Join(bin, "hpnode"), "new", dir).CombinedOutput(); err != nil {
				t.Fatalf("hpnode new: %v\n%s", err, out)
			}
			path := nodedir.Layout{Root: dir}.HPCfg()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			data, _ = json.Marshal(m)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(filepath.Join(bin, "hpnode"), "run", dir).CombinedOutput()
			if err == nil {
				t.Fatalf("hpnode run accepted a broken hp.cfg:\n%s", out)
			}
			want := tc.field
			if tc.name == "unknown field" {
				want = "prot" // encoding/json names the unknown key without its parent
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("error does not name %s:\n%s", want, out)
			}
		})
	}
}
