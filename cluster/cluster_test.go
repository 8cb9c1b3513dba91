package cluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/nodedir"
)

func TestCreateWiresEveryNodeToEveryOther(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	m, err := Create(dir, CreateOptions{Nodes: 3, RoundTime: 500})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var cfgs []config.HPConfig
	for k := 1; k <= 3; k++ {
		nd, err := m.NodeDir(dir, k)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(nodedir.Layout{Root: nd}.HPCfg())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, cfg.Node.PublicKey)
		cfgs = append(cfgs, cfg)
	}
	for i, cfg := range cfgs {
		if cfg.Contract.ID != m.ContractID {
			t.Errorf("node %d contract id %s, want %s", i+1, cfg.Contract.ID, m.ContractID)
		}
		if !slices.Equal(cfg.Contract.UNL, keys) {
			t.Errorf("node %d UNL %v, want %v", i+1, cfg.Contract.UNL, keys)
		}
		if cfg.User.Port != uint16(FirstUserPort+i) || cfg.Mesh.Port != uint16(FirstPeerPort+i) {
			t.Errorf("node %d ports %d/%d", i+1, cfg.User.Port, cfg.Mesh.Port)
		}
		if len(cfg.Mesh.KnownPeers) != 2 || slices.Contains(cfg.Mesh.KnownPeers, "127.0.0.1:"+itoa(cfg.Mesh.Port)) {
			t.Errorf("node %d known peers %v", i+1, cfg.Mesh.KnownPeers)
		}
		if cfg.Contract.Consensus.RoundTime != 500 {
			t.Errorf("node %d roundtime %d", i+1, cfg.Contract.Consensus.RoundTime)
		}
	}
	if _, err := Create(dir, CreateOptions{Nodes: 3}); err == nil {
		t.Fatal("create over an existing cluster succeeded")
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

func TestCreateRejectsBadNodeCount(t *testing.T) {
	if _, err := Create(t.TempDir(), CreateOptions{Nodes: 0}); err == nil {
		t.Fatal("0 nodes accepted")
	}
}

func TestStatusesAndLogsOfStoppedCluster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	if _, err := Create(dir, CreateOptions{Nodes: 2}); err != nil {
		t.Fatal(err)
	}
	st, err := Statuses(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Running || st[1].Running {
		t.Fatalf("statuses %+v", st)
	}
	nd := filepath.Join(dir, "node2")
	if err := os.WriteFile(nodedir.Layout{Root: nd}.NodeLog(), []byte("Ledger created\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Logs(context.Background(), dir, 2, false, &buf); err != nil || buf.String() != "Ledger created\n" {
		t.Fatalf("logs %q %v", buf.String(), err)
	}
	if err := Logs(context.Background(), dir, 3, false, &buf); err == nil {
		t.Fatal("node 3 of 2 accepted")
	}
}

func TestCleanRefusesNonClusterDir(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "precious")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Clean(dir); err == nil {
		t.Fatal("clean of a non-cluster directory succeeded")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatal("clean removed a file of a non-cluster directory")
	}
}

func TestCleanRemovesCluster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	if _, err := Create(dir, CreateOptions{Nodes: 1}); err != nil {
		t.Fatal(err)
	}
	if err := Clean(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster dir still there: %v", err)
	}
}

func TestSpawnAddsABlankNodeKnowingOnlyNodeOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	m, err := Create(dir, CreateOptions{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	k, err := Spawn(dir)
	if err != nil || k != 3 {
		t.Fatalf("spawn: %d %v", k, err)
	}
	first, _ := config.Load(nodedir.Layout{Root: filepath.Join(dir, "node1")}.HPCfg())
	cfg, err := config.Load(nodedir.Layout{Root: filepath.Join(dir, "node3")}.HPCfg())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Contract.ID != m.ContractID || !slices.Equal(cfg.Contract.UNL, []string{first.Node.PublicKey}) ||
		!slices.Equal(cfg.Mesh.KnownPeers, []string{first.Mesh.AdvertiseAddr}) || cfg.User.Port != FirstUserPort+2 {
		t.Fatalf("spawned node config %+v", cfg)
	}
	if _, err := os.Stat(nodedir.Layout{Root: filepath.Join(dir, "node3")}.Bundle()); err == nil {
		t.Fatal("a spawned node must start blank, without the contract bundle")
	}
	m2, _ := Open(dir)
	if len(m2.Nodes) != 3 {
		t.Fatalf("manifest %v", m2.Nodes)
	}
}
