package nodedir

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpfs/hpnode/config"
)

func TestCreateWritesLoadableNode(t *testing.T) {
	root := filepath.Join(t.TempDir(), "node1")
	cfg, err := Create(root, CreateOptions{UserPort: 8081, PeerPort: 22861, Peers: []string{"127.0.0.1:22862"}})
	if err != nil {
		t.Fatal(err)
	}
	l := Layout{Root: root}
	got, err := config.Load(l.HPCfg())
	if err != nil {
		t.Fatal(err)
	}
	if got.Node.PublicKey != cfg.Node.PublicKey || got.User.Port != 8081 || got.Mesh.Port != 22861 {
		t.Fatalf("hp.cfg does not hold the options: %+v", got)
	}
	if len(got.Contract.UNL) != 1 || got.Contract.UNL[0] != got.Node.PublicKey {
		t.Fatalf("default UNL is not [self]: %v", got.Contract.UNL)
	}
	if len(got.Contract.ID) != 36 {
		t.Fatalf("contract id %q is not a UUID", got.Contract.ID)
	}
	if _, err := tls.LoadX509KeyPair(l.TLSCert(), l.TLSKey()); err != nil {
		t.Fatalf("TLS pair unusable: %v", err)
	}
}

func TestCreateRefusesExistingNode(t *testing.T) {
	root := t.TempDir()
	if _, err := Create(root, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, CreateOptions{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second create: %v", err)
	}
}

func TestCreateMergesBundleOverride(t *testing.T) {
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "index.js"), []byte("console.log(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	override := `{"contract":{"bin_path":"/usr/bin/node","bin_args":"index.js","consensus":{"roundtime":2000}}}`
	if err := os.WriteFile(filepath.Join(bundle, OverrideFile), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "n")
	cfg, err := Create(root, CreateOptions{Contract: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Contract.BinPath != "/usr/bin/node" || cfg.Contract.BinArgs != "index.js" || cfg.Contract.Consensus.RoundTime != 2000 {
		t.Fatalf("override not merged: %+v", cfg.Contract)
	}
	if cfg.Contract.Consensus.Threshold != 80 {
		t.Fatal("deep merge lost a sibling field")
	}
	l := Layout{Root: root}
	if _, err := os.Stat(filepath.Join(l.Bundle(), "index.js")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.Bundle(), OverrideFile)); err == nil {
		t.Fatal("override copied into the bundle")
	}
}

func TestCreateRejectsBrokenOverride(t *testing.T) {
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, OverrideFile), []byte(`{"contract":{"consensus":{"threshold":0}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Create(filepath.Join(t.TempDir(), "n"), CreateOptions{Contract: bundle})
	if err == nil || !strings.Contains(err.Error(), "contract.consensus.threshold") {
		t.Fatalf("got %v", err)
	}
}
