package statesync

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// hookSink calls hook after the n-th successful apply.
type hookSink struct {
	ProofSink
	n       int64
	applies atomic.Int64
	hook    func()
}

func (s *hookSink) Apply(ctx context.Context, req ApplyRequest) (ApplyResult, error) {
	res, err := s.ProofSink.Apply(ctx, req)
	if err == nil && s.applies.Add(1) == s.n {
		s.hook()
	}
	return res, err
}

// twoVersions builds root1 from files1 and root2 = root1 with changes applied.
func twoVersions(t testing.TB, st merkle.NodeStore, files1, changes map[string][]byte) (merkle.Hash, merkle.Hash) {
	r1 := buildTree(t, st, merkle.EmptyRoot(), files1)
	return r1, buildTree(t, st, r1, changes)
}

// retargetFixture is n files (n >= 10) and a second version that removes, rewrites and adds
// some, near both ends of the key space.
func retargetFixture(n int) (files1, changes, files2 map[string][]byte) {
	files1 = genFiles(n, 3000, 3)
	last := n - 1 - (n-1)%7 + 6 // the last file of directory d06
	if last >= n {
		last -= 7
	}
	changes = map[string][]byte{
		"state/d00/f000000":                  nil,                            // removed
		"state/d03/f000003":                  []byte("rewritten"),            // changed
		"state/new/file":                     []byte("added after the move"), // added in a new directory
		fmt.Sprintf("state/d06/f%06d", last): nil,
	}
	files2 = map[string][]byte{}
	for p, d := range files1 {
		files2[p] = d
	}
	for p, d := range changes {
		if d == nil {
			delete(files2, p)
		} else {
			files2[p] = d
		}
	}
	return files1, changes, files2
}

func TestTargetMovedMidSyncConvergesWithChangeProofs(t *testing.T) {
	files1, changes, files2 := retargetFixture(400)
	var root1, root2 merkle.Hash
	var counters []*countingSource
	c := newCluster(t, 3, func(st merkle.NodeStore) []merkle.Hash {
		root1, root2 = twoVersions(t, st, files1, changes)
		return []merkle.Hash{root1, root2}
	}, func(_ int, s ProofSource) ProofSource {
		cs := &countingSource{ProofSource: s}
		counters = append(counters, cs)
		return cs
	})
	local := merkle.NewMemStore()
	sink := &hookSink{ProofSink: NewStoreSink(local, testParams), n: 6}
	cl := syncClient(c, sink, Config{Scheduler: SchedulerConfig{MaxBytes: 64 << 10, MaxInFlight: 3, PerPeer: 1}})
	sink.hook = func() { cl.SetTarget(root2) }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Run(ctx, root1); err != nil {
		t.Fatal(err)
	}
	checkTree(t, local, root2, files2)
	var changesServed, fallbacks int64
	for _, cs := range counters {
		changesServed += cs.changes.Load()
		fallbacks += cs.fallbacks.Load()
	}
	if changesServed == 0 || fallbacks != 0 {
		t.Fatalf("change proofs %d, fallbacks %d; want change proofs and no fallback", changesServed, fallbacks)
	}
	if p := cl.Progress(); p.Target != root2 || !p.Done {
		t.Fatalf("progress %+v, want done at root2", p)
	}
}

func TestServerWithoutOldRootFallsBackToRangeProofs(t *testing.T) {
	files1, changes, files2 := retargetFixture(400)
	var root1, root2 merkle.Hash
	var counters []*countingSource
	c := newCluster(t, 3, func(st merkle.NodeStore) []merkle.Hash {
		root1, root2 = twoVersions(t, st, files1, changes)
		return []merkle.Hash{root1, root2}
	}, func(_ int, s ProofSource) ProofSource {
		cs := &countingSource{ProofSource: s}
		counters = append(counters, cs)
		return cs
	})
	local := merkle.NewMemStore()
	sink := &hookSink{ProofSink: NewStoreSink(local, testParams), n: 6}
	cl := syncClient(c, sink, Config{Scheduler: SchedulerConfig{MaxBytes: 64 << 10, MaxInFlight: 3, PerPeer: 1}})
	sink.hook = func() {
		// History is gone everywhere: every server forgets root1 before the client moves on.
		for _, s := range c.sources {
			s.RemoveRoot(root1)
		}
		cl.SetTarget(root2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Run(ctx, root1); err != nil {
		t.Fatal(err)
	}
	checkTree(t, local, root2, files2)
	var changesServed, fallbacks int64
	for _, cs := range counters {
		changesServed += cs.changes.Load()
		fallbacks += cs.fallbacks.Load()
	}
	if fallbacks == 0 || changesServed != 0 {
		t.Fatalf("change proofs %d, fallbacks %d; want fallbacks only", changesServed, fallbacks)
	}
}

// TestNackedTargetIsRetriedWhenAServerCatchesUp: no server has the target at first; each
// answers with a NACK (never silence) and the client retries until one gains the root.
func TestNackedTargetIsRetriedWhenAServerCatchesUp(t *testing.T) {
	files := genFiles(50, 1000, 4)
	var root merkle.Hash
	c := newCluster(t, 2, func(st merkle.NodeStore) []merkle.Hash {
		root = buildTree(t, st, merkle.EmptyRoot(), files)
		return nil
	}, nil)
	local := merkle.NewMemStore()
	cl := syncClient(c, NewStoreSink(local, testParams), Config{Scheduler: SchedulerConfig{NackRetry: 50 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- cl.Run(ctx, root) }()
	select {
	case err := <-errc:
		t.Fatalf("Run returned %v before any server had the root", err)
	case <-time.After(300 * time.Millisecond):
	}
	if p := cl.Progress(); p.Entries != 0 || p.Done {
		t.Fatalf("progress before any server had the root: %+v", p)
	}
	c.sources[1].AddRoot(root)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	checkTree(t, local, root, files)
}
