package hpfs

import (
	"errors"

	"github.com/hpfs/hpnode/merkle"
)

// ErrSyncActive reports an operation refused because a proof sync into the store is running.
var ErrSyncActive = errors.New("a state sync is in progress")

// syncState is a proof sync in progress: the target root being assembled in the staged area.
type syncState struct {
	target merkle.Hash
}

// handleProof serves range-proof, change-proof and apply-proof.
func (d *Daemon) handleProof(req Request) (any, error) {
	return nil, errors.New("proofs: merkle proof API not landed yet")
}
