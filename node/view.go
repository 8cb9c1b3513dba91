package node

import (
	"crypto/ed25519"
	"sync"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/userapi"
)

// viewState is the part of the consensus loop's state that other goroutines read (the user
// server, the status publisher). The loop is its only writer.
type viewState struct {
	mu       sync.Mutex
	up       bool
	tip      consensus.Record
	tipHash  consensus.Hash
	status   consensus.VoteStatus
	unl      []consensus.PubKey
	result   consensus.Result // latest local execution result
	progress *syncProgress
}

func (v *viewState) setUp()   { v.mu.Lock(); v.up = true; v.mu.Unlock() }
func (v *viewState) setDown() { v.mu.Lock(); v.up = false; v.mu.Unlock() }

func (v *viewState) setLedger(r consensus.Record, h consensus.Hash) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Seq >= v.tip.Seq {
		v.tip, v.tipHash = r, h
	}
}

func (v *viewState) setStatus(s consensus.VoteStatus) { v.mu.Lock(); v.status = s; v.mu.Unlock() }

func (v *viewState) setUNL(unl []consensus.PubKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.unl = append([]consensus.PubKey(nil), unl...)
}

func (v *viewState) setResult(r consensus.Result) { v.mu.Lock(); v.result = r; v.mu.Unlock() }

// executedSeq is the sequence of the latest ledger this node executed (or synced to).
func (v *viewState) executedSeq() uint64 { v.mu.Lock(); defer v.mu.Unlock(); return v.result.Seq }

func (v *viewState) setProgress(p *syncProgress) { v.mu.Lock(); v.progress = p; v.mu.Unlock() }

func (v *viewState) lcl() userapi.LedgerID {
	v.mu.Lock()
	defer v.mu.Unlock()
	return userapi.LedgerID{Seq: v.tip.Seq, Hash: userapi.Hash(v.tipHash)}
}

func (v *viewState) unlKeys() []ed25519.PublicKey {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]ed25519.PublicKey, len(v.unl))
	for i, k := range v.unl {
		out[i] = ed25519.PublicKey(append([]byte(nil), k[:]...))
	}
	return out
}

// snapshot copies everything at once, for the status file.
func (v *viewState) snapshot() viewState {
	v.mu.Lock()
	defer v.mu.Unlock()
	return viewState{up: v.up, tip: v.tip, tipHash: v.tipHash, status: v.status,
		unl: append([]consensus.PubKey(nil), v.unl...), result: v.result, progress: v.progress}
}
