package hpfs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/merkle"
)

// Proofs applied one after the other write through one recycled batch buffer, and what they
// wrote is intact once pebble has flushed its memtable: pebble does not keep a recycled buffer.
func TestSyncBatchBufferIsRecycledWithoutCorruption(t *testing.T) {
	src, _, v2 := syncSource(t, 60)
	starts, proofs := rangeProofs(t, src, v2)
	dst := startDaemon(t, t.TempDir(), 0)
	pc := NewProtoClient(serveSocket(t, dst))
	defer pc.Close()
	if _, err := pc.BeginSync(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	var first []byte
	for i := range proofs {
		if _, err := pc.ApplyProof(context.Background(), KindRange, merkle.Hash{}, v2, starts[i], nil, proofs[i]); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		first = checkOneRecycled(t, dst.Store().batchPool, first, fmt.Sprintf("apply %d", i))
	}
	if err := dst.Store().db.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := dst.Store().Head().Root; got != v2 {
		t.Fatalf("head %s, want %s", got, v2)
	}
	checkScratch(t, dst.path("current"), v2)
}

// A batch big enough for pebble to keep as a memtable of its own keeps its buffer: it is not
// recycled.
func TestSyncBatchBufferOfAFlushableBatchIsNotRecycled(t *testing.T) {
	st, err := OpenStore(StoreOptions{Dir: t.TempDir(), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, buf := st.pooledBatch(maxRecycledBatch + 1<<20)
	if err := b.Set([]byte{'x'}, make([]byte, maxRecycledBatch), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	st.releasePooledBatch(b, buf, true)
	if n := st.batchPool.recycled(); n != 0 {
		t.Fatalf("a %d MiB batch's buffer was recycled", maxRecycledBatch>>20)
	}
	small, sbuf := st.pooledBatch(1 << 10)
	if err := small.Set([]byte{'y'}, []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	st.releasePooledBatch(small, sbuf, false)
	if n := st.batchPool.recycled(); n != 0 {
		t.Fatal("the buffer of an uncommitted batch was recycled")
	}
}

// More batches than pooledBatches wait for one to be released instead of allocating a buffer
// of their own, and take over its buffer.
func TestSyncBatchesBeyondThePoolWait(t *testing.T) {
	st, err := OpenStore(StoreOptions{Dir: t.TempDir(), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	type held struct {
		b   *pebble.Batch
		buf []byte
	}
	var hs []held
	for range pooledBatches {
		b, buf := st.pooledBatch(1 << 10)
		hs = append(hs, held{b, buf})
	}
	got := make(chan []byte)
	go func() {
		b, buf := st.pooledBatch(1 << 10)
		b.Close()
		got <- buf
	}()
	select {
	case <-got:
		t.Fatalf("batch %d got a buffer while %d were filling", pooledBatches+1, pooledBatches)
	case <-time.After(100 * time.Millisecond):
	}
	if err := hs[0].b.Set([]byte{'x'}, []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	if err := hs[0].b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	st.releasePooledBatch(hs[0].b, hs[0].buf, true)
	if buf := <-got; &buf[0] != &hs[0].buf[0] {
		t.Fatal("the waiting batch allocated a buffer instead of taking the released one")
	}
}

// Commits smaller than maxRecycledBatch write through one recycled buffer and stay intact once
// pebble has flushed; a commit too big for that keeps its buffer to pebble (not recycled).
func TestCommitBatchBufferIsRecycled(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	pool := d.Store().batchPool
	var first []byte
	var roots []merkle.Hash
	for i := range 3 {
		mustBegin(t, d)
		writeFile(t, d.path(RWView, StateDir, "f"), randBytes(rand.New(rand.NewPCG(uint64(i), 1)), 300<<10))
		roots = append(roots, mustCommit(t, d).Version.Root)
		first = checkOneRecycled(t, pool, first, fmt.Sprintf("commit %d", i))
	}
	if err := d.Store().db.Flush(); err != nil {
		t.Fatal(err)
	}
	checkScratch(t, d.path(CurrentView), roots[len(roots)-1])

	// Leaves too big to share with the next commit (their batch is kept by pebble).
	mustBegin(t, d)
	writeFile(t, d.path(RWView, StateDir, "big"), randBytes(rand.New(rand.NewPCG(9, 1)), maxRecycledBatch+(1<<20)))
	res := mustCommit(t, d)
	checkOneRecycled(t, pool, first, "the big commit") // still the small commits' buffer
	if err := d.Store().db.Flush(); err != nil {
		t.Fatal(err)
	}
	checkScratch(t, d.path(CurrentView), res.Version.Root)
}

// checkOneRecycled asserts that pool holds exactly one buffer after what, and that it is first
// (when first is set); it returns that buffer.
func checkOneRecycled(t *testing.T, pool *batchBufs, first []byte, what string) []byte {
	t.Helper()
	if n := pool.recycled(); n != 1 {
		t.Fatalf("after %s the store keeps %d batch buffers, want 1", what, n)
	}
	buf := pool.get()
	pool.put(buf)
	if first != nil && &buf[0] != &first[0] {
		t.Fatalf("after %s the pool holds a fresh buffer, not the recycled one", what)
	}
	return buf
}
