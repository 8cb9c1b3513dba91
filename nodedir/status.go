package nodedir

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hpfs/hpnode/config"
)

// Status is what a running node publishes about itself in its status file, for `hpnode status`
// and `hpnode cluster start|status` (which run in other processes).
type Status struct {
	PID        int       `json:"pid"`
	Up         bool      `json:"up"` // set once the node serves users and peers
	UpdatedAt  time.Time `json:"updated_at"`
	PublicKey  string    `json:"public_key"`
	InUNL      bool      `json:"in_unl"`
	VoteStatus string    `json:"vote_status"` // unknown | unreliable | desync | synced
	LCLSeq     uint64    `json:"lcl_seq"`
	LCLHash    string    `json:"lcl_hash"`
	StateHash  string    `json:"state_hash"`
	PatchHash  string    `json:"patch_hash"`
	UNL        []string  `json:"unl"`
	Peers      []string  `json:"peers"` // connected peer keys
	UserPort   uint16    `json:"user_port"`
	PeerPort   uint16    `json:"peer_port"`
	Sync       *Progress `json:"sync,omitempty"`
}

// Progress is a state or ledger sync in flight.
type Progress struct {
	Target      string  `json:"target"`
	Entries     uint64  `json:"entries"`
	Bytes       uint64  `json:"bytes"`
	Percent     float64 `json:"percent"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	ETASeconds  float64 `json:"eta_seconds"`
}

// WriteStatus publishes s atomically.
func WriteStatus(l Layout, s Status) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return config.WriteFileAtomic(l.StatusFile(), append(data, '\n'), 0o644)
}

// WritePID publishes the node's process id atomically: `hpnode cluster start` reads it while
// both it and the node write it, and a reader that saw a truncated file took a starting node
// for one that had exited.
func WritePID(l Layout, pid int) error {
	return config.WriteFileAtomic(l.PIDFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// ReadStatus reads the last published status.
func ReadStatus(l Layout) (Status, error) {
	data, err := os.ReadFile(l.StatusFile())
	if err != nil {
		return Status{}, fmt.Errorf("node status: %w", err)
	}
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return Status{}, fmt.Errorf("node status %s: %w", l.StatusFile(), err)
	}
	return s, nil
}
