package hpfs

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/merkle"
)

// syncSource commits two versions on a new daemon: v1 with n files (and one large one), v2 with
// one small file changed. It returns the daemon and both roots.
func syncSource(t *testing.T, n int) (*Daemon, merkle.Hash, merkle.Hash) {
	t.Helper()
	src := startDaemon(t, t.TempDir(), 0)
	r := rand.New(rand.NewPCG(11, 12))
	mustBegin(t, src)
	writeFile(t, src.path("rw", "state", "big"), randBytes(r, 300_000))
	for i := range n {
		writeFile(t, src.path("rw", "state", "f"+itoa(uint64(i))), randBytes(r, 2000))
	}
	v1 := mustCommit(t, src).Version.Root
	mustBegin(t, src)
	writeFile(t, src.path("rw", "state", "f3"), []byte("changed"))
	v2 := mustCommit(t, src).Version.Root
	return src, v1, v2
}

// rangeProofs cuts root into consecutive small range proofs, returning each with its start.
func rangeProofs(t *testing.T, d *Daemon, root merkle.Hash) (starts []merkle.Key, proofs [][]byte) {
	t.Helper()
	start := merkle.Key{}
	for {
		p, end, err := d.ProofRange(root, start, nil, 9, 20_000)
		if err != nil {
			t.Fatal(err)
		}
		starts, proofs = append(starts, start), append(proofs, p)
		if end == nil {
			return starts, proofs
		}
		start = append(append(merkle.Key{}, end...), 0)
	}
}

func countPrefix(t *testing.T, s *Store, tag byte) int {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tag}, UpperBound: []byte{tag + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

// TestConcurrentApplyProofsSyncAnotherStore applies every proof of a tree at once, in random
// order, through the binary socket: exactly the target becomes the head, every caller learns it
// is done only once it is committed, and no object is left without a reference.
func TestConcurrentApplyProofsSyncAnotherStore(t *testing.T) {
	src, _, v2 := syncSource(t, 60)
	starts, proofs := rangeProofs(t, src, v2)
	if len(proofs) < 8 {
		t.Fatalf("only %d proofs: the test needs many concurrent applies", len(proofs))
	}
	dst := startDaemon(t, t.TempDir(), 0)
	pc := NewProtoClient(serveSocket(t, dst))
	defer pc.Close()
	if st, err := pc.BeginSync(context.Background(), v2); err != nil || st.Done || len(st.Remaining) != 1 || !st.Remaining[0].Base.IsZero() {
		t.Fatalf("begin on a fresh store: %+v, %v (want the whole key space, no base)", st, err)
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(proofs))
	var wg sync.WaitGroup
	results := make([]SyncStatus, len(proofs))
	errs := make([]error, len(proofs))
	for _, i := range order {
		wg.Go(func() {
			results[i], errs[i] = pc.ApplyProof(context.Background(), KindRange, merkle.Hash{}, v2, starts[i], nil, proofs[i])
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if results[i].Done && results[i].Version.Root != v2 {
			t.Fatalf("apply %d done at %s, want %s", i, results[i].Version.Root, v2)
		}
	}
	if got := dst.Store().Head().Root; got != v2 {
		t.Fatalf("head %s, want %s", got, v2)
	}
	equalBytes(t, "synced f3", readFile(t, dst.path("current", "state", "f3")), []byte("changed"))
	checkScratch(t, dst.path("current"), v2)
	checkRefcounts(t, dst.Store())
	if n := countPrefix(t, dst.Store(), tagJournal); n != 0 {
		t.Fatalf("%d journal keys left after the commit", n)
	}
}

// TestBeginSyncFromHeadFetchesOnlyTheDifference: a store holding v1 begins a sync to v2 from its
// head, so one change proof (a small fraction of the tree's bytes) finishes it.
func TestBeginSyncFromHeadFetchesOnlyTheDifference(t *testing.T) {
	src, v1, v2 := syncSource(t, 60)
	dst := startDaemon(t, t.TempDir(), 0)
	starts, proofs := rangeProofs(t, src, v1)
	full := 0
	for i := range proofs {
		full += len(proofs[i])
		if _, err := dst.ApplyProof(KindRange, merkle.Hash{}, v1, starts[i], nil, proofs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if dst.Store().Head().Root != v1 {
		t.Fatal("first sync did not reach v1")
	}
	st, err := dst.BeginSync(v2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done || len(st.Remaining) != 1 || st.Remaining[0].Base != v1 {
		t.Fatalf("begin from v1: %+v, want the whole key space with base v1", st)
	}
	cp, _, fallback, err := src.ProofChange(v1, v2, merkle.Key{}, nil, 0, 0)
	if err != nil || fallback {
		t.Fatalf("change proof: fallback %v, %v", fallback, err)
	}
	if len(cp)*10 > full {
		t.Fatalf("change proof of %d bytes for a tree of %d: not a difference", len(cp), full)
	}
	st, err = dst.ApplyProof(KindChange, v1, v2, merkle.Key{}, nil, cp)
	if err != nil || !st.Done {
		t.Fatalf("apply change proof: %+v, %v", st, err)
	}
	if dst.Store().Head().Root != v2 {
		t.Fatal("sync did not reach v2")
	}
	checkScratch(t, dst.path("current"), v2)
	checkRefcounts(t, dst.Store())
	if st, err := dst.BeginSync(v2); err != nil || !st.Done || st.Version.Root != v2 {
		t.Fatalf("begin to the head: %+v, %v", st, err)
	}
}

// TestAbortAndCrashLeaveNoOrphans: objects of a sync that is aborted, or that dies with its
// daemon, are deleted (by the abort, or by the next sync's begin).
func TestAbortAndCrashLeaveNoOrphans(t *testing.T) {
	src, _, v2 := syncSource(t, 40)
	starts, proofs := rangeProofs(t, src, v2)
	store := t.TempDir()
	dst := startDaemon(t, store, 0)
	for i := range 3 {
		if _, err := dst.ApplyProof(KindRange, merkle.Hash{}, v2, starts[i], nil, proofs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if countPrefix(t, dst.Store(), tagJournal) == 0 {
		t.Fatal("no journal keys while a sync is in progress")
	}
	if err := dst.AbortSync(); err != nil {
		t.Fatal(err)
	}
	checkRefcounts(t, dst.Store())
	if _, err := dst.ApplyProof(KindRange, merkle.Hash{}, v2, starts[0], nil, proofs[0]); err != nil {
		t.Fatal(err)
	}

	// A second daemon on a copy of the store: as if the first had died mid-sync.
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := StartDaemon(DaemonOptions{Store: StoreOptions{Dir: store, Logger: quietLog()}, MountDir: mnt})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if countPrefix(t, d2.Store(), tagJournal) == 0 {
		t.Fatal("the dead sync's journal did not survive the restart")
	}
	if _, err := d2.BeginSync(testHash(1)); err != nil {
		t.Fatal(err)
	}
	checkRefcounts(t, d2.Store())
	if err := d2.AbortSync(); err != nil {
		t.Fatal(err)
	}
}

// TestApplyProofRejectsTamperedChangeProof: hpfsd verifies change proofs against its own tree.
func TestApplyProofRejectsTamperedChangeProof(t *testing.T) {
	src, v1, v2 := syncSource(t, 30)
	dst := startDaemon(t, t.TempDir(), 0)
	starts, proofs := rangeProofs(t, src, v1)
	for i := range proofs {
		if _, err := dst.ApplyProof(KindRange, merkle.Hash{}, v1, starts[i], nil, proofs[i]); err != nil {
			t.Fatal(err)
		}
	}
	cp, _, _, err := src.ProofChange(v1, v2, merkle.Key{}, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{len(cp) / 2, len(cp) - 1} {
		bad := bytes.Clone(cp)
		bad[i] ^= 0x20
		if _, err := dst.ApplyProof(KindChange, v1, v2, merkle.Key{}, nil, bad); !errors.Is(err, ErrProofRejected) {
			t.Fatalf("byte %d flipped: %v, want ErrProofRejected", i, err)
		}
	}
	if _, err := dst.ApplyProof(KindChange, testHash(4), v2, merkle.Key{}, nil, cp); !errors.Is(err, ErrProofRejected) {
		t.Fatalf("change proof against a base the store lacks: %v, want ErrProofRejected", err)
	}
	if dst.Store().Head().Root != v1 {
		t.Fatal("a rejected proof moved the head")
	}
}

func TestStillKept(t *testing.T) {
	vs := func(seqs ...uint64) []Version {
		out := make([]Version, len(seqs))
		for i, s := range seqs {
			out[i] = Version{Seq: s}
		}
		return out
	}
	cases := []struct {
		kept []uint64
		now  []Version
		want bool
	}{
		{[]uint64{1, 2}, vs(1, 2), true},
		{[]uint64{1, 2}, vs(1, 2, 3, 4), true},
		{[]uint64{1, 2}, vs(2, 3), false},       // 1 dropped
		{[]uint64{1, 2}, vs(1, 2, 4), false},    // 3 committed and dropped
		{[]uint64{1, 3}, vs(1, 3, 4, 6), false}, // 5 dropped
		{nil, vs(1), false},
	}
	for _, c := range cases {
		s := &Store{versions: c.now}
		if got := s.stillKept(c.kept); got != c.want {
			t.Errorf("kept %v, now %v: %v, want %v", c.kept, c.now, got, c.want)
		}
	}
}

// FuzzProofDecodersAgree: the in-place proof decoders accept exactly what merkle's decoders
// accept, and decode it to the same proof.
func FuzzProofDecodersAgree(f *testing.F) {
	rp, _ := (&merkle.RangeProof{End: merkle.Key("k\x00"), Nodes: [][]byte{{1, 2}}, Leaves: [][]byte{{3}}}).MarshalBinary()
	cp, _ := (&merkle.ChangeProof{Nodes: [][]byte{nil, {4}}, Leaves: [][]byte{{5, 6}, nil}}).MarshalBinary()
	fp, _ := (&merkle.ChangeProof{Fallback: true, End: merkle.Key{}, Nodes: [][]byte{{7}}}).MarshalBinary()
	for _, b := range [][]byte{rp, cp, fp, {'R', 1, 0}, {'C', 1, 3, 0, 0, 0, 0}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want merkle.RangeProof
		werr := want.UnmarshalBinary(b)
		got, gerr := rangeProofInPlace(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("range proof: merkle %v, in place %v", werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(*got, want) {
			t.Fatalf("range proof: in place %+v, merkle %+v", *got, want)
		}
		var wantC merkle.ChangeProof
		werr = wantC.UnmarshalBinary(b)
		gotC, gerr := changeProofInPlace(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("change proof: merkle %v, in place %v", werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(*gotC, wantC) {
			t.Fatalf("change proof: in place %+v, merkle %+v", *gotC, wantC)
		}
		if gerr != nil && !errors.Is(gerr, merkle.ErrMalformedProof) {
			t.Fatalf("error without ErrMalformedProof: %v", gerr)
		}
	})
}

// TestSyncFinishesAfterVersionsDroppedMidSync: rw commits that drop versions in the middle of a
// sync make the commit at Done check every leaf's presence itself (a dropped version may have
// deleted an object the sync had written); the result is still exact.
func TestSyncFinishesAfterVersionsDroppedMidSync(t *testing.T) {
	src, _, v2 := syncSource(t, 40)
	starts, proofs := rangeProofs(t, src, v2)
	dst := startDaemon(t, t.TempDir(), 2)
	half := len(proofs) / 2
	for i := range half {
		if _, err := dst.ApplyProof(KindRange, merkle.Hash{}, v2, starts[i], nil, proofs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		mustBegin(t, dst)
		writeFile(t, dst.path("rw", "state", "local"), []byte{byte(i)})
		mustCommit(t, dst)
	}
	for i := half; i < len(proofs); i++ {
		if _, err := dst.ApplyProof(KindRange, merkle.Hash{}, v2, starts[i], nil, proofs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got := dst.Store().Head().Root; got != v2 {
		t.Fatalf("head %s, want %s", got, v2)
	}
	checkScratch(t, dst.path("current"), v2)
	checkRefcounts(t, dst.Store())
}

// TestSyncedObjectsKeepCopiesWithinTheirBound: the nodes a sync run remembers for its commit are
// copies (the proof's buffer is reused for the next proof), each stored once, and no more than
// maxSyncedNodeBytes of them.
func TestSyncedObjectsKeepCopiesWithinTheirBound(t *testing.T) {
	c := newSyncedObjects()
	data := []byte("node bytes")
	h := merkle.Hash{1}
	c.add([]merkle.Blob{{Hash: h, Data: data}, {Hash: h, Data: data}}, []merkle.Blob{{Hash: merkle.Hash{9}}})
	copy(data, "overwrite!")
	if got, ok := c.get(h); !ok || string(got) != "node bytes" {
		t.Fatalf("remembered %q, %v; want a copy of the original bytes", got, ok)
	}
	if c.bytes != len("node bytes") {
		t.Fatalf("%d bytes remembered for one node added twice", c.bytes)
	}
	big := make([]byte, maxSyncedNodeBytes/2)
	c.add([]merkle.Blob{{Hash: merkle.Hash{2}, Data: big}, {Hash: merkle.Hash{3}, Data: big}}, nil)
	if _, ok := c.get(merkle.Hash{2}); !ok {
		t.Fatal("a node within the bound was not remembered")
	}
	if _, ok := c.get(merkle.Hash{3}); ok || c.bytes > maxSyncedNodeBytes {
		t.Fatalf("remembered %d bytes, bound %d", c.bytes, maxSyncedNodeBytes)
	}
	var none *syncedObjects
	none.add([]merkle.Blob{{Hash: h, Data: data}}, []merkle.Blob{{Hash: h}})
	if _, ok := none.get(h); ok || none.hasLeaf(h) {
		t.Fatal("a nil cache remembered an object")
	}
	if !c.hasLeaf(merkle.Hash{9}) || c.hasLeaf(h) {
		t.Fatal("leaves remembered wrongly")
	}
}
