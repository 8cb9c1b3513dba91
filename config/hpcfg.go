package config

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
)

// Version is the hp_version hpnode writes and speaks (HotPocket's user protocol checks "0.6.x").
const Version = "0.6.4"

// HPConfig is hp.cfg: HotPocket's structure and field names (reference §5.1) plus hpnode's
// additions (Sync, Ledger, HPFS.KeepVersions, Mesh.PeerDiscovery.RecordTTL, Metrics).
type HPConfig struct {
	HPVersion string   `json:"hp_version"`
	Node      Node     `json:"node"`
	Contract  Contract `json:"contract"`
	Mesh      Mesh     `json:"mesh"`
	User      User     `json:"user"`
	HPFS      HPFS     `json:"hpfs"`
	Log       Log      `json:"log"`
	Sync      Sync     `json:"sync"`
	Ledger    Ledger   `json:"ledger"`
	Metrics   Metrics  `json:"metrics"`
}

// Node is the node's identity and role.
type Node struct {
	PublicKey     string        `json:"public_key"`  // "ed" + 64 hex
	PrivateKey    string        `json:"private_key"` // "ed" + 128 hex
	Role          string        `json:"role"`        // "validator" | "observer"
	History       string        `json:"history"`     // "full" | "custom"
	HistoryConfig HistoryConfig `json:"history_config"`
}

// HistoryConfig is HotPocket's shard retention; hpnode maps it onto Ledger retention.
type HistoryConfig struct {
	MaxPrimaryShards uint64 `json:"max_primary_shards"`
	MaxRawShards     uint64 `json:"max_raw_shards"`
}

// Contract is the contract section: the node-local fields, and the PatchConfig fields (embedded,
// so they appear inline in hp.cfg as in HotPocket) that are mirrored into patch.cfg and kept in
// consensus.
type Contract struct {
	ID      string      `json:"id"`
	Execute bool        `json:"execute"`
	RunAs   string      `json:"run_as"`
	Log     ContractLog `json:"log"`
	PatchConfig
}

// ContractLog controls capture of the contract's stdout/stderr into files.
type ContractLog struct {
	Enable           bool   `json:"enable"`
	MaxMBytesPerFile uint64 `json:"max_mbytes_per_file"`
	MaxFileCount     uint64 `json:"max_file_count"`
}

// ConsensusCfg is the consensus timing and threshold.
type ConsensusCfg struct {
	Mode       string `json:"mode"`        // "public" | "private"
	RoundTime  uint32 `json:"roundtime"`   // ms, 1..3,600,000
	StageSlice uint32 `json:"stage_slice"` // percent, 1..33
	Threshold  uint32 `json:"threshold"`   // percent, 1..100
}

// NPL is the node party line mode.
type NPL struct {
	Mode string `json:"mode"` // "public" | "private"
}

// RoundLimits bound one contract execution; 0 means unlimited (exec_timeout in ms).
type RoundLimits struct {
	UserInputBytes  uint64 `json:"user_input_bytes"`
	UserOutputBytes uint64 `json:"user_output_bytes"`
	NPLOutputBytes  uint64 `json:"npl_output_bytes"`
	ProcCPUSeconds  uint64 `json:"proc_cpu_seconds"`
	ProcMemBytes    uint64 `json:"proc_mem_bytes"`
	ProcOFDCount    uint64 `json:"proc_ofd_count"`
	ExecTimeout     uint64 `json:"exec_timeout"`
}

// Mesh is the peer network section.
type Mesh struct {
	Port                   uint16        `json:"port"`
	ListenHost             string        `json:"listen_host"`    // address to bind (hpnode addition; default all)
	AdvertiseAddr          string        `json:"advertise_addr"` // host:port in this node's peer record (hpnode addition)
	Listen                 bool          `json:"listen"`
	IdleTimeout            uint64        `json:"idle_timeout"` // ms; 0 = none
	KnownPeers             []string      `json:"known_peers"`  // "host:port"
	MsgForwarding          bool          `json:"msg_forwarding"`
	MaxConnections         uint64        `json:"max_connections"`
	MaxKnownConnections    uint64        `json:"max_known_connections"`
	MaxInConnectionsPerHst uint64        `json:"max_in_connections_per_host"`
	MaxBytesPerMsg         uint64        `json:"max_bytes_per_msg"` // 0 -> 5 MiB
	MaxBytesPerMin         uint64        `json:"max_bytes_per_min"`
	MaxBadMsgsPerMin       uint64        `json:"max_bad_msgs_per_min"`
	MaxBadMsgSigsPerMin    uint64        `json:"max_bad_msgsigs_per_min"`
	MaxDupMsgsPerMin       uint64        `json:"max_dup_msgs_per_min"`
	PeerDiscovery          PeerDiscovery `json:"peer_discovery"`
	// DisableLanes keeps requests (state and ledger sync) on QUIC streams instead of TLS-over-TCP
	// lanes on the TCP port of the same number (hpnode addition; see package p2p).
	DisableLanes bool `json:"disable_lanes"`
}

// PeerDiscovery controls signed peer-record gossip.
type PeerDiscovery struct {
	Enabled   bool   `json:"enabled"`
	Interval  uint64 `json:"interval"`   // ms between re-announcements
	RecordTTL uint64 `json:"record_ttl"` // ms a signed peer record stays valid (hpnode addition)
}

// User is the user (client) server section.
type User struct {
	Port                   uint16 `json:"port"`
	ListenHost             string `json:"listen_host"` // address to bind (hpnode addition; default all)
	Listen                 bool   `json:"listen"`
	IdleTimeout            uint64 `json:"idle_timeout"`
	MaxBytesPerMsg         uint64 `json:"max_bytes_per_msg"` // 0 -> 5 MiB
	MaxBytesPerMin         uint64 `json:"max_bytes_per_min"`
	MaxBadMsgsPerMin       uint64 `json:"max_bad_msgs_per_min"`
	MaxConnections         uint64 `json:"max_connections"`
	MaxInConnectionsPerHst uint64 `json:"max_in_connections_per_host"`
	ConcurrentReadRequests uint64 `json:"concurrent_read_requests"` // 1..32
}

// HPFS is the state filesystem daemon section.
type HPFS struct {
	External     bool    `json:"external"`
	Log          HPFSLog `json:"log"`
	KeepVersions uint64  `json:"keep_versions"` // committed versions kept (hpnode addition)
}

// HPFSLog is hpfsd's log level.
type HPFSLog struct {
	LogLevel string `json:"log_level"`
}

// Log is the node's own logging.
type Log struct {
	LogLevel         string   `json:"log_level"` // "dbg" | "inf" | "wrn" | "err"
	MaxMBytesPerFile uint64   `json:"max_mbytes_per_file"`
	MaxFileCount     uint64   `json:"max_file_count"`
	Loggers          []string `json:"loggers"` // subset of "console", "file"
}

// Sync is state and ledger sync (hpnode addition).
type Sync struct {
	Workers         uint64 `json:"workers"`           // chunk requests in flight across peers
	MaxProofEntries uint64 `json:"max_proof_entries"` // entries per proof response
	MaxProofBytes   uint64 `json:"max_proof_bytes"`   // bytes per proof response
	RequestTimeout  uint64 `json:"request_timeout"`   // ms
	// CatchUpLedgers is how far (in ledgers) a node may fall behind its peers and still catch up by
	// executing every missed ledger; further behind, it fetches the missed ledgers (verified by
	// their certificates) and state-syncs to the newest one instead. 0 always executes.
	CatchUpLedgers uint64 `json:"catchup_ledgers"`
}

// Ledger is ledger retention (hpnode addition): 0 keeps every ledger.
type Ledger struct {
	KeepLedgers uint64 `json:"keep_ledgers"`
}

// Metrics is the Prometheus endpoint (hpnode addition); empty Listen disables it.
type Metrics struct {
	Listen string `json:"listen"` // e.g. "127.0.0.1:9100"
}

// Default returns the configuration `hpnode new` writes, before the caller sets keys, id and UNL.
func Default() HPConfig {
	return HPConfig{
		HPVersion: Version,
		Node: Node{
			Role:          "validator",
			History:       "custom",
			HistoryConfig: HistoryConfig{MaxPrimaryShards: 1},
		},
		Contract: Contract{
			Execute: true,
			Log:     ContractLog{MaxMBytesPerFile: 5, MaxFileCount: 10},
			PatchConfig: PatchConfig{
				Version:              "1.0",
				BinPath:              "<your contract binary here>",
				Environment:          map[string]string{},
				MaxInputLedgerOffset: 10,
				Consensus:            ConsensusCfg{Mode: "private", RoundTime: 1000, StageSlice: 25, Threshold: 80},
				NPL:                  NPL{Mode: "private"},
				RoundLimits:          RoundLimits{ExecTimeout: 300000},
			},
		},
		Mesh: Mesh{
			Port: 22860, ListenHost: "0.0.0.0", Listen: true, IdleTimeout: 120000, KnownPeers: []string{}, MsgForwarding: true,
			PeerDiscovery: PeerDiscovery{Enabled: true, Interval: 30000, RecordTTL: 600000},
		},
		User: User{Port: 8080, ListenHost: "0.0.0.0", Listen: true, ConcurrentReadRequests: 4},
		HPFS: HPFS{Log: HPFSLog{LogLevel: "wrn"}, KeepVersions: 16},
		Log:  Log{LogLevel: "inf", MaxMBytesPerFile: 5, MaxFileCount: 10, Loggers: []string{"console", "file"}},
		Sync: Sync{Workers: 8, MaxProofEntries: 2048, MaxProofBytes: 4 << 20, RequestTimeout: 10000, CatchUpLedgers: 32},
	}
}

// NewKeyPair returns HotPocket-format hex keys ("ed" + hex) for a fresh Ed25519 key.
func NewKeyPair() (pub, priv string, err error) {
	p, s, err := ed25519.GenerateKey(nil)
	if err != nil {
		return "", "", fmt.Errorf("generate node key: %w", err)
	}
	return EncodeKey(p), "ed" + hex.EncodeToString(s), nil
}

// EncodeKey is HotPocket's text form of a public key: "ed" + 64 lowercase hex.
func EncodeKey(pub ed25519.PublicKey) string { return "ed" + hex.EncodeToString(pub) }

// ParsePublicKey parses "ed" + 64 hex (HotPocket's form); a bare 64-hex key is accepted too.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := parseHexKey(s, ed25519.PublicKeySize)
	if err != nil {
		return nil, fmt.Errorf("public key %q: %w", s, err)
	}
	return ed25519.PublicKey(b), nil
}

// ParsePrivateKey parses "ed" + 128 hex.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := parseHexKey(s, ed25519.PrivateKeySize)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return ed25519.PrivateKey(b), nil
}

func parseHexKey(s string, size int) ([]byte, error) {
	s = strings.TrimPrefix(s, "ed")
	if len(s) != 2*size {
		return nil, fmt.Errorf("want \"ed\" + %d hex digits, got %d", 2*size, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	return b, nil
}

// Keys returns the node's key pair after checking that it signs and verifies, as HotPocket does.
func (c *HPConfig) Keys() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, err := ParsePublicKey(c.Node.PublicKey)
	if err != nil {
		return nil, nil, fieldErr("node.public_key", err)
	}
	priv, err := ParsePrivateKey(c.Node.PrivateKey)
	if err != nil {
		return nil, nil, fieldErr("node.private_key", err)
	}
	if !ed25519.Verify(pub, []byte("hotpocket"), ed25519.Sign(priv, []byte("hotpocket"))) {
		return nil, nil, fieldErr("node.private_key", fmt.Errorf("does not match node.public_key"))
	}
	return pub, priv, nil
}
