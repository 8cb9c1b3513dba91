package hpfs

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/merkle"
)

// Defaults for proof requests that leave the limits at zero.
const (
	DefaultProofEntries = 10000
	DefaultProofBytes   = 4 << 20
)

// ErrProofRejected reports a proof that failed to decode or verify: the peer that sent it lied
// (or was corrupted), not the daemon.
var ErrProofRejected = errors.New("proof rejected")

// ErrSyncAborted reports an apply that raced with sync.abort (or a newer sync.begin).
var ErrSyncAborted = errors.New("sync aborted")

// ProofKind says whether a proof is a range proof or a change proof.
type ProofKind uint8

// Proof kinds.
const (
	KindRange  ProofKind = 1
	KindChange ProofKind = 2
)

// String names the kind as the JSON protocol spells it.
func (k ProofKind) String() string {
	switch k {
	case KindRange:
		return "range"
	case KindChange:
		return "change"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// syncState is the daemon's proof sync. It lives as long as the daemon; run is the sync in
// progress, if any.
//
// Applies run concurrently: each verifies its proof and writes its objects holding gate for
// reading, then updates the Syncer's bookkeeping under mu. Whatever must see no object write in
// flight (begin's sweep of a dead sync's objects, the commit at Done, abort) holds gate for
// writing.
type syncState struct {
	gate sync.RWMutex

	mu  sync.Mutex
	run *syncRun
}

// syncRun is one sync towards a target (which may move forward).
type syncRun struct {
	syncer *merkle.Syncer
	unpin  func() // releases the pin on the base version; nil without a base
	// kept are the version seqs kept when the run started (see Store.commitSynced).
	kept []uint64
	// written are the objects the run's applies wrote, for the commit at Done.
	written *syncedObjects
	// commit is closed when the commit at Done has ended, with ver and err set; committing
	// says the syncer is done for target and one apply has taken the job of committing it.
	// A committing run never moves to another target.
	committing bool
	target     merkle.Hash
	commit     chan struct{}
	ver        Version
	err        error
}

// syncs returns the daemon's sync state, creating it on first use.
func (d *Daemon) syncs() *syncState {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sync == nil {
		d.sync = &syncState{}
	}
	return d.sync
}

// bookStore is the store a Syncer sees: reads go to the daemon's store, writes are dropped
// because applyProof has already written the proof's objects (writeSynced) before the Syncer
// marks their ranges held.
type bookStore struct{ *Store }

func (bookStore) PutNode(merkle.Hash, []byte) error { return nil }
func (bookStore) PutLeaf(merkle.Hash, []byte) error { return nil }

// SyncStatus is what a sync still needs: Done, or the ranges it misses.
type SyncStatus struct {
	Done bool
	// Remaining ranges; a range with a Base may be fetched as a change proof from that root.
	Remaining []merkle.KeyRange
	// Version is the committed target when Done.
	Version Version
	// Proved describes the proof an ApplyProof verified and applied (nil for BeginSync), so a
	// client need not verify the proof a second time to learn where it ended.
	Proved *Proved
}

// Proved summarises a verified proof.
type Proved struct {
	// End is the proof's end (nil: the end of the key space); Complete says it is the
	// requested end.
	End      merkle.Key
	Complete bool
	// Entries counts the directories, files and symlinks it proved (not leaves); Bytes the leaf
	// data it carried.
	Entries, Bytes uint64
}

func provedOf(v *merkle.Verified) *Proved {
	p := &Proved{End: v.End, Complete: v.Complete}
	if p.End != nil {
		p.End = append(merkle.Key{}, p.End...)
	}
	for _, e := range v.Entries {
		if !e.Leaf {
			p.Entries++
		}
		p.Bytes += uint64(len(e.Data))
	}
	return p
}

// ProofRange proves the entries of root (a kept version) in [start, end] (end nil: to the
// end) within the limits (≤ 0: the defaults), returning the marshalled merkle.RangeProof and
// its end. A root that is not kept gives an error wrapping ErrUnknownVersion.
func (d *Daemon) ProofRange(root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) ([]byte, merkle.Key, error) {
	p, err := d.rangeProof(nil, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return nil, nil, err
	}
	b, err := p.MarshalBinary()
	return b, p.End, err
}

// rangeProof builds the proof ProofRange marshals; its leaves lie in sc's arena when sc is not
// nil (valid until sc's next proof).
func (d *Daemon) rangeProof(sc *proofScratch, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (*merkle.RangeProof, error) {
	maxEntries, maxBytes = proofLimits(maxEntries, maxBytes)
	if !d.store.HasVersion(root) {
		return nil, fmt.Errorf("range proof at %s: %w", root, ErrUnknownVersion)
	}
	ps := newProofStore(d.store, maxBytes, sc)
	defer sc.keep(ps)
	p, err := merkle.NewRangeProof(ps, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("range proof: %w", err)
	}
	return p, nil
}

// ProofChange proves what root (a kept version) holds in [start, end] relative to base. When
// base is not a kept version it returns a fallback proof (a range proof at root wrapped as a
// change proof): a daemon serves only the history it keeps, even if some of base's objects
// linger. It returns the marshalled merkle.ChangeProof, its end, and whether it fell back.
func (d *Daemon) ProofChange(base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) ([]byte, merkle.Key, bool, error) {
	p, err := d.changeProof(nil, base, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return nil, nil, false, err
	}
	b, err := p.MarshalBinary()
	return b, p.End, p.Fallback, err
}

// changeProof builds the proof ProofChange marshals, as rangeProof does.
func (d *Daemon) changeProof(sc *proofScratch, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (*merkle.ChangeProof, error) {
	maxEntries, maxBytes = proofLimits(maxEntries, maxBytes)
	if !d.store.HasVersion(root) {
		return nil, fmt.Errorf("change proof to %s: %w", root, ErrUnknownVersion)
	}
	if d.store.HasVersion(base) {
		ps := newProofStore(d.store, maxBytes, sc)
		defer sc.keep(ps)
		p, err := merkle.NewChangeProof(ps, base, root, start, end, maxEntries, maxBytes)
		if err != nil {
			return nil, fmt.Errorf("change proof: %w", err)
		}
		return p, nil
	}
	ps := newProofStore(d.store, maxBytes, sc)
	defer sc.keep(ps)
	rp, err := merkle.NewRangeProof(ps, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("change proof (fallback): %w", err)
	}
	return &merkle.ChangeProof{Fallback: true, End: rp.End, Nodes: rp.Nodes, Leaves: rp.Leaves}, nil
}

func proofLimits(maxEntries, maxBytes int) (int, int) {
	if maxEntries <= 0 {
		maxEntries = DefaultProofEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultProofBytes
	}
	return maxEntries, maxBytes
}

// handleProof serves the JSON forms of range-proof, change-proof, apply-proof, sync.begin and
// sync.abort.
func (d *Daemon) handleProof(req Request) (any, error) {
	switch req.Op {
	case OpRangeProof:
		root, err := d.parseRoot(req.Version)
		if err != nil {
			return nil, err
		}
		b, _, err := d.ProofRange(root, req.Start, endKey(req.End), req.MaxEntries, req.MaxBytes)
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
		b, _, _, err := d.ProofChange(r1, r2, req.Start, endKey(req.End), req.MaxEntries, req.MaxBytes)
		return ProofInfo{Proof: b}, err
	case OpSyncAbort:
		return struct{}{}, d.AbortSync()
	case OpSyncBegin:
		target, err := merkle.ParseHash(req.Target)
		if err != nil {
			return nil, fmt.Errorf("sync begin: target: %w", err)
		}
		st, err := d.BeginSync(target)
		return applyInfo(st), err
	}
	target, err := merkle.ParseHash(req.Target)
	if err != nil {
		return nil, fmt.Errorf("apply proof: target: %w", err)
	}
	var kind ProofKind
	var base merkle.Hash
	switch req.Kind {
	case "range":
		kind = KindRange
	case "change":
		kind = KindChange
		if base, err = merkle.ParseHash(req.Root1); err != nil {
			return nil, fmt.Errorf("apply proof: root1: %w", err)
		}
	default:
		return nil, fmt.Errorf("apply proof: kind %q is neither \"range\" nor \"change\"", req.Kind)
	}
	st, err := d.ApplyProof(kind, base, target, req.Start, endKey(req.End), req.Proof)
	return applyInfo(st), err
}

func applyInfo(st SyncStatus) ApplyInfo {
	out := ApplyInfo{Done: st.Done}
	for _, r := range st.Remaining {
		kr := KeyRange{Start: r.Start, End: r.End}
		if !r.Base.IsZero() {
			kr.Base = r.Base.String()
		}
		out.Remaining = append(out.Remaining, kr)
	}
	if st.Done {
		vi := versionInfo(st.Version)
		out.Version = &vi
	}
	return out
}

// endKey maps an absent JSON end to nil (the end of the key space).
func endKey(b []byte) merkle.Key {
	if b == nil {
		return nil
	}
	return merkle.Key(b)
}

// AbortSync forgets the sync in progress and deletes every object it wrote that no version
// references.
func (d *Daemon) AbortSync() error {
	ss := d.syncs()
	ss.gate.Lock()
	defer ss.gate.Unlock()
	ss.mu.Lock()
	if r := ss.run; r != nil && r.unpin != nil {
		r.unpin()
	}
	ss.run = nil
	ss.mu.Unlock()
	if err := d.store.sweepJournal(); err != nil {
		return fmt.Errorf("sync abort: %w", err)
	}
	return d.store.clearStaged()
}

// BeginSync starts a sync to target from the local head, or moves the sync in progress to
// target, and says what remains. A new sync starts with the whole key space remaining with Base
// = the head, so every range can be fetched as a change proof from what this store already
// holds (a peer without that history answers with a fallback range proof). A target that is
// already a kept version is Done at once.
func (d *Daemon) BeginSync(target merkle.Hash) (SyncStatus, error) {
	ss := d.syncs()
	for {
		st, wait, err := d.beginSync(ss, target)
		if wait == nil {
			return st, err
		}
		<-wait.commit
	}
}

// beginSync is BeginSync's attempt; it returns a run to wait for when a sync is committing.
func (d *Daemon) beginSync(ss *syncState, target merkle.Hash) (SyncStatus, *syncRun, error) {
	ss.gate.Lock()
	defer ss.gate.Unlock()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if r := ss.run; r != nil && r.committing {
		return SyncStatus{}, r, nil
	}
	if r := ss.run; r != nil {
		r.syncer.SetTarget(target)
		// Done cannot be true here: a done syncer is committing.
		return SyncStatus{Remaining: r.syncer.Remaining()}, nil, nil
	}
	if v, ok := d.store.VersionOf(target); ok {
		return SyncStatus{Done: true, Version: v}, nil, nil
	}
	// No sync is writing (gate is held): what is journaled belongs to a sync that died.
	if err := d.store.sweepJournal(); err != nil {
		return SyncStatus{}, nil, fmt.Errorf("sync begin: %w", err)
	}
	head := d.store.Head()
	useBase, err := worthBase(d.store, head.Root)
	if err != nil {
		return SyncStatus{}, nil, fmt.Errorf("sync begin: %w", err)
	}
	if !useBase {
		ss.run = &syncRun{syncer: merkle.NewSyncer(bookStore{d.store}, target, d.store.Params()), commit: make(chan struct{}), kept: d.store.keptSeqs(), written: newSyncedObjects()}
		d.log.Info("sync begin", "target", hex8(target))
		return SyncStatus{Remaining: ss.run.syncer.Remaining()}, nil, nil
	}
	unpin, err := d.store.Pin(head.Root)
	if err != nil {
		return SyncStatus{}, nil, fmt.Errorf("sync begin: pin base %s: %w", hex8(head.Root), err)
	}
	sy := merkle.NewSyncer(bookStore{d.store}, head.Root, d.store.Params())
	// The head is held in full: mark the whole key space held at the head, then move on.
	if err := sy.Apply(&merkle.Verified{Root: head.Root, Start: merkle.Key{}}); err != nil {
		unpin()
		return SyncStatus{}, nil, fmt.Errorf("sync begin: %w", err)
	}
	sy.SetTarget(target)
	ss.run = &syncRun{syncer: sy, unpin: unpin, commit: make(chan struct{}), kept: d.store.keptSeqs(), written: newSyncedObjects()}
	d.log.Info("sync begin", "target", hex8(target), "base", hex8(head.Root))
	return SyncStatus{Remaining: sy.Remaining()}, nil, nil
}

// worthBase reports whether root holds anything a change proof could reuse: a fresh store's
// first version (empty directories only) does not. A blank node asks for range proofs then:
// a change proof from an empty tree carries the same bytes, costs the server a walk of the base
// and, from a server that never held that root, comes back as a fallback anyway.
func worthBase(store merkle.NodeStore, root merkle.Hash) (bool, error) {
	entries, err := merkle.ReadDir(store, root)
	if err != nil {
		return false, fmt.Errorf("read head %s: %w", hex8(root), err)
	}
	for _, e := range entries {
		if e.Kind != merkle.KindDir || e.Size != 0 {
			return true, nil
		}
	}
	return false, nil
}

// ApplyProof verifies one proof for the sync to target and stores what it reveals. A change
// proof's base is the old root it was built from. When the store then holds the whole target
// tree, the target becomes a committed version and current/ shows it. Calls may run
// concurrently; a proof that fails to decode or verify gives an error wrapping
// ErrProofRejected.
func (d *Daemon) ApplyProof(kind ProofKind, base, target merkle.Hash, start, end merkle.Key, proof []byte) (SyncStatus, error) {
	var v *merkle.Verified
	var err error
	// The proof is decoded in place: its bytes outlive every use of the decoded proof (the
	// objects are copied into a batch before ApplyProof returns).
	switch kind {
	case KindRange:
		p, derr := rangeProofInPlace(proof)
		if derr != nil {
			return SyncStatus{}, fmt.Errorf("apply proof: %w: %w", ErrProofRejected, derr)
		}
		v, err = merkle.VerifyRangeProof(p, target, start, end)
	case KindChange:
		p, derr := changeProofInPlace(proof)
		if derr != nil {
			return SyncStatus{}, fmt.Errorf("apply proof: %w: %w", ErrProofRejected, derr)
		}
		v, err = merkle.VerifyChangeProof(p, d.store, base, target, start, end)
	default:
		return SyncStatus{}, fmt.Errorf("apply proof: %s is neither a range nor a change proof", kind)
	}
	if err != nil {
		return SyncStatus{}, fmt.Errorf("apply proof: %w: verify: %w", ErrProofRejected, err)
	}
	if d.RWOpen() {
		return SyncStatus{}, fmt.Errorf("apply proof: %w", ErrSessionOpen)
	}
	ss := d.syncs()
	for {
		ss.gate.RLock()
		st, run, err := d.applyVerified(ss, v)
		ss.gate.RUnlock()
		if errors.Is(err, errAfterCommit) {
			// A sync to an older target is committing: wait, then start over from it.
			<-run.commit
			continue
		}
		if err == nil && st.Done && run != nil {
			st, err = d.finishSync(ss, run)
		}
		if err != nil {
			return SyncStatus{}, err
		}
		st.Proved = provedOf(v)
		return st, nil
	}
}

// errAfterCommit: the proof is for another target than the run being committed.
var errAfterCommit = errors.New("sync committing another target")

// applyVerified writes v's objects and marks its range held. It returns the run when that made
// (or found) the sync done, for finishSync.
func (d *Daemon) applyVerified(ss *syncState, v *merkle.Verified) (SyncStatus, *syncRun, error) {
	target := v.Root
	ss.mu.Lock()
	run := ss.run
	if run != nil && run.committing {
		ss.mu.Unlock()
		if run.target != target {
			return SyncStatus{}, run, errAfterCommit
		}
		return SyncStatus{Done: true}, run, nil
	}
	switch {
	case run == nil:
		if ver, ok := d.store.VersionOf(target); ok {
			ss.mu.Unlock()
			return SyncStatus{Done: true, Version: ver}, nil, nil
		}
		// A client that did not begin (the JSON protocol's first form): the whole key space.
		run = &syncRun{syncer: merkle.NewSyncer(bookStore{d.store}, target, d.store.Params()), commit: make(chan struct{}), kept: d.store.keptSeqs(), written: newSyncedObjects()}
		ss.run = run
	case run.syncer.Target() != target:
		run.syncer.SetTarget(target)
	}
	ss.mu.Unlock()

	if err := d.store.writeSynced(v, run.written); err != nil {
		return SyncStatus{}, nil, fmt.Errorf("apply proof: %w", err)
	}

	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.run != run {
		return SyncStatus{}, nil, fmt.Errorf("apply proof to %s: %w", hex8(target), ErrSyncAborted)
	}
	if run.committing {
		if run.target != target {
			return SyncStatus{}, run, errAfterCommit
		}
		return SyncStatus{Done: true}, run, nil
	}
	if err := run.syncer.Apply(v); err != nil {
		return SyncStatus{}, nil, fmt.Errorf("apply proof: %w", err)
	}
	if !run.syncer.Done() {
		return SyncStatus{Remaining: run.syncer.Remaining()}, nil, nil
	}
	run.committing, run.target = true, target
	return SyncStatus{Done: true}, run, nil
}

// finishSync commits a done run's target, or waits for the apply that does.
func (d *Daemon) finishSync(ss *syncState, run *syncRun) (SyncStatus, error) {
	ss.gate.Lock()
	select {
	case <-run.commit:
		ss.gate.Unlock()
	default:
		// The first to take the write gate commits: no object write is in flight any more.
		// d.mu is held across the commit, as for an rw commit, so no rw session can begin
		// on the old head meanwhile.
		d.mu.Lock()
		if d.rw != nil {
			run.err = ErrSessionOpen
		} else if run.ver, run.err = d.store.commitSynced(run.target, run.kept, run.written); run.err == nil {
			d.current = d.newROInode(run.ver)
			d.root.AddChild(CurrentView, d.current, true)
		}
		d.mu.Unlock()
		ss.mu.Lock()
		if ss.run == run {
			ss.run = nil
		}
		if run.unpin != nil {
			run.unpin()
		}
		ss.mu.Unlock()
		if run.err == nil {
			if err := d.store.clearStaged(); err != nil {
				d.log.Warn("clear staged objects", "err", err)
			}
			d.notify(CurrentView)
			d.log.Info("sync done", "seq", run.ver.Seq, "root", hex8(run.ver.Root))
		}
		close(run.commit)
		ss.gate.Unlock()
	}
	if run.err != nil {
		return SyncStatus{}, fmt.Errorf("apply proof: commit synced %s: %w", hex8(run.target), run.err)
	}
	return SyncStatus{Done: true, Version: run.ver}, nil
}

// clearStaged drops every staged object (they are either promoted or garbage).
func (s *Store) clearStaged() error {
	return s.db.DeleteRange([]byte{tagStaged}, []byte{tagStaged + 1}, pebble.NoSync)
}
