package hpfs

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/merkle"
)

// Defaults for proof requests that leave the limits at zero.
const (
	DefaultProofEntries = 10000
	DefaultProofBytes   = 4 << 20
)

// syncState is a proof sync in progress: a merkle.Syncer writing into the staged area.
type syncState struct {
	syncer *merkle.Syncer
}

// handleProof serves range-proof, change-proof and apply-proof.
func (d *Daemon) handleProof(req Request) (any, error) {
	maxEntries, maxBytes := req.MaxEntries, req.MaxBytes
	if maxEntries <= 0 {
		maxEntries = DefaultProofEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultProofBytes
	}
	switch req.Op {
	case OpRangeProof:
		root, err := d.parseRoot(req.Version)
		if err != nil {
			return nil, err
		}
		p, err := merkle.NewRangeProof(d.store, root, req.Start, endKey(req.End), maxEntries, maxBytes)
		if err != nil {
			return nil, fmt.Errorf("range proof: %w", err)
		}
		b, err := p.MarshalBinary()
		return ProofInfo{Proof: b}, err
	case OpChangeProof:
		r1, err := merkle.ParseHash(req.Root1)
		if err != nil {
			return nil, fmt.Errorf("root1: %w", err)
		}
		r2, err := d.parseRoot(req.Root2)
		if err != nil {
			return nil, err
		}
		p, err := merkle.NewChangeProof(d.store, r1, r2, req.Start, endKey(req.End), maxEntries, maxBytes)
		if err != nil {
			return nil, fmt.Errorf("change proof: %w", err)
		}
		b, err := p.MarshalBinary()
		return ProofInfo{Proof: b}, err
	}
	if req.Op == OpSyncAbort {
		return struct{}{}, d.abortSync()
	}
	return d.applyProof(req)
}

// abortSync forgets the sync in progress and its staged objects.
func (d *Daemon) abortSync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sync = nil
	return d.store.clearStaged()
}

// endKey maps an absent JSON end to nil (the end of the key space).
func endKey(b []byte) merkle.Key {
	if b == nil {
		return nil
	}
	return merkle.Key(b)
}

// applyProof verifies one proof for the sync target and stores what it reveals. When the store
// holds the whole target tree, the target becomes a committed version (and current/ shows it).
func (d *Daemon) applyProof(req Request) (any, error) {
	target, err := merkle.ParseHash(req.Target)
	if err != nil {
		return nil, fmt.Errorf("apply proof: target: %w", err)
	}
	var v *merkle.Verified
	switch req.Kind {
	case "range":
		var p merkle.RangeProof
		if err := p.UnmarshalBinary(req.Proof); err != nil {
			return nil, fmt.Errorf("apply proof: %w", err)
		}
		v, err = merkle.VerifyRangeProof(&p, target, req.Start, endKey(req.End))
	case "change":
		r1, perr := merkle.ParseHash(req.Root1)
		if perr != nil {
			return nil, fmt.Errorf("apply proof: root1: %w", perr)
		}
		var p merkle.ChangeProof
		if err := p.UnmarshalBinary(req.Proof); err != nil {
			return nil, fmt.Errorf("apply proof: %w", err)
		}
		v, err = merkle.VerifyChangeProof(&p, d.store, r1, target, req.Start, endKey(req.End))
	default:
		return nil, fmt.Errorf("apply proof: kind %q is neither \"range\" nor \"change\"", req.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("apply proof: verify: %w", err)
	}

	d.mu.Lock()
	if d.rw != nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("apply proof: %w", ErrSessionOpen)
	}
	if d.sync == nil {
		d.sync = &syncState{syncer: merkle.NewSyncer(d.store, target, d.store.Params())}
	} else {
		d.sync.syncer.SetTarget(target)
	}
	sy := d.sync.syncer
	if err := sy.Apply(v); err != nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("apply proof: %w", err)
	}
	out := ApplyInfo{Done: sy.Done()}
	for _, r := range sy.Remaining() {
		kr := KeyRange{Start: r.Start, End: r.End}
		if !r.Base.IsZero() {
			kr.Base = r.Base.String()
		}
		out.Remaining = append(out.Remaining, kr)
	}
	if !out.Done {
		d.mu.Unlock()
		return out, nil
	}
	ver, err := d.store.Commit(target, nil)
	if err != nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("apply proof: commit synced %s: %w", target, err)
	}
	d.sync = nil
	if err := d.store.clearStaged(); err != nil {
		d.log.Warn("clear staged objects", "err", err)
	}
	d.current = d.newROInode(ver)
	d.root.AddChild(CurrentView, d.current, true)
	d.mu.Unlock()
	d.notify(CurrentView)
	vi := versionInfo(ver)
	out.Version = &vi
	d.log.Info("sync done", "seq", ver.Seq, "root", hex8(ver.Root))
	return out, nil
}

// clearStaged drops every staged object (they are either promoted or garbage).
func (s *Store) clearStaged() error {
	return s.db.DeleteRange([]byte{tagStaged}, []byte{tagStaged + 1}, pebble.NoSync)
}
