package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/nodedir"
)

// ManifestFile marks a directory as a cluster made by Create; Clean refuses any other directory.
const ManifestFile = "cluster.json"

// Ports of node 1; node k uses base + k - 1 (HotPocket's devkit numbering).
const (
	FirstUserPort = 8081
	FirstPeerPort = 22861
)

// Manifest describes a local cluster.
type Manifest struct {
	ContractID string   `json:"contract_id"`
	Nodes      []string `json:"nodes"` // node directory names, node k at index k-1
}

// CreateOptions are the flags of `hpnode cluster create`.
type CreateOptions struct {
	Nodes    int
	Contract string // contract bundle directory; may be empty
	// RoundTime, when non-zero, sets contract.consensus.roundtime (ms) on every node.
	RoundTime uint32
	// FirstUserPort and FirstPeerPort override the default port bases (tests run clusters side by side).
	FirstUserPort, FirstPeerPort uint16
}

// Create makes dir/node1..nodeN: one contract id, every node in every UNL, every node knowing the
// others' peer addresses, and (with a bundle) identical contract bundles to seed the state from.
func Create(dir string, opts CreateOptions) (Manifest, error) {
	if opts.Nodes < 1 || opts.Nodes > 200 {
		return Manifest{}, fmt.Errorf("cluster create: --nodes must be 1..200, got %d", opts.Nodes)
	}
	userBase, peerBase := uint16(FirstUserPort), uint16(FirstPeerPort)
	if opts.FirstUserPort != 0 {
		userBase = opts.FirstUserPort
	}
	if opts.FirstPeerPort != 0 {
		peerBase = opts.FirstPeerPort
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("cluster create: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return Manifest{}, fmt.Errorf("cluster create: %s already holds a cluster (hpnode cluster clean first)", dir)
	}
	var m Manifest
	var cfgs []config.HPConfig
	for k := 1; k <= opts.Nodes; k++ {
		name := "node" + strconv.Itoa(k)
		cfg, err := nodedir.Create(filepath.Join(dir, name), nodedir.CreateOptions{
			ContractID: m.ContractID,
			UserPort:   userBase + uint16(k-1),
			PeerPort:   peerBase + uint16(k-1),
			Contract:   opts.Contract,
			Configure: func(c *config.HPConfig) {
				// A local cluster is public so every node sees every proposal, as devkit's bindmesh does.
				c.Contract.Consensus.Mode = "public"
				// Loopback only: a development cluster is not reachable from other hosts.
				c.Mesh.ListenHost, c.User.ListenHost = "127.0.0.1", "127.0.0.1"
				if opts.RoundTime != 0 {
					c.Contract.Consensus.RoundTime = opts.RoundTime
				}
			},
		})
		if err != nil {
			return Manifest{}, fmt.Errorf("cluster create %s: %w", name, err)
		}
		m.ContractID = cfg.Contract.ID
		m.Nodes = append(m.Nodes, name)
		cfgs = append(cfgs, cfg)
	}
	unl := make([]string, len(cfgs))
	for i, c := range cfgs {
		unl[i] = c.Node.PublicKey
	}
	for i := range cfgs {
		cfgs[i].Contract.UNL = append([]string(nil), unl...)
		cfgs[i].Mesh.AdvertiseAddr = fmt.Sprintf("127.0.0.1:%d", cfgs[i].Mesh.Port)
		cfgs[i].Mesh.KnownPeers = nil
		for j := range cfgs {
			if j != i {
				cfgs[i].Mesh.KnownPeers = append(cfgs[i].Mesh.KnownPeers, fmt.Sprintf("127.0.0.1:%d", cfgs[j].Mesh.Port))
			}
		}
		if cfgs[i].Mesh.KnownPeers == nil {
			cfgs[i].Mesh.KnownPeers = []string{}
		}
		l := nodedir.Layout{Root: filepath.Join(dir, m.Nodes[i])}
		if err := config.Save(l.HPCfg(), cfgs[i]); err != nil {
			return Manifest{}, fmt.Errorf("cluster create %s: %w", m.Nodes[i], err)
		}
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := config.WriteFileAtomic(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644); err != nil {
		return Manifest{}, fmt.Errorf("cluster create: %w", err)
	}
	return m, nil
}

// Open reads the manifest of the cluster at dir.
func Open(dir string) (Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%s is not a cluster directory (no %s; run hpnode cluster create)", dir, ManifestFile)
	}
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if len(m.Nodes) == 0 {
		return Manifest{}, fmt.Errorf("%s lists no nodes", ManifestFile)
	}
	return m, nil
}

// NodeDir returns node k's directory (k from 1).
func (m Manifest) NodeDir(dir string, k int) (string, error) {
	if k < 1 || k > len(m.Nodes) {
		return "", fmt.Errorf("node %d: the cluster has nodes 1..%d", k, len(m.Nodes))
	}
	return filepath.Join(dir, m.Nodes[k-1]), nil
}

// Spawn adds a blank node to the cluster, as HotPocket's `hpdevkit spawn` does: it knows only the
// contract id, node 1's peer address and node 1's key (as its UNL), and clones everything else
// from the running cluster when it starts. It returns the new node's number.
func Spawn(dir string) (int, error) {
	m, err := Open(dir)
	if err != nil {
		return 0, err
	}
	first, err := config.Load(nodedir.Layout{Root: filepath.Join(dir, m.Nodes[0])}.HPCfg())
	if err != nil {
		return 0, fmt.Errorf("cluster spawn: node 1: %w", err)
	}
	var maxUser, maxPeer uint16
	for k := 1; k <= len(m.Nodes); k++ {
		nd, _ := m.NodeDir(dir, k)
		cfg, err := config.Load(nodedir.Layout{Root: nd}.HPCfg())
		if err != nil {
			return 0, fmt.Errorf("cluster spawn: node %d: %w", k, err)
		}
		maxUser, maxPeer = max(maxUser, cfg.User.Port), max(maxPeer, cfg.Mesh.Port)
	}
	k := len(m.Nodes) + 1
	name := "node" + strconv.Itoa(k)
	peer := first.Mesh.AdvertiseAddr
	if peer == "" {
		peer = fmt.Sprintf("127.0.0.1:%d", first.Mesh.Port)
	}
	_, err = nodedir.Create(filepath.Join(dir, name), nodedir.CreateOptions{
		ContractID: m.ContractID,
		UNL:        []string{first.Node.PublicKey},
		Peers:      []string{peer},
		UserPort:   maxUser + 1,
		PeerPort:   maxPeer + 1,
		Configure: func(c *config.HPConfig) {
			c.Mesh.ListenHost, c.User.ListenHost = "127.0.0.1", "127.0.0.1"
			c.Mesh.AdvertiseAddr = fmt.Sprintf("127.0.0.1:%d", maxPeer+1)
		},
	})
	if err != nil {
		return 0, fmt.Errorf("cluster spawn: %w", err)
	}
	m.Nodes = append(m.Nodes, name)
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := config.WriteFileAtomic(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644); err != nil {
		return 0, fmt.Errorf("cluster spawn: %w", err)
	}
	return k, nil
}
