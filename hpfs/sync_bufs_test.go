package hpfs

import (
	"context"
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
		bufs := dst.Store().syncBufs
		if n := bufs.recycled(); n != 1 {
			t.Fatalf("after apply %d the store keeps %d batch buffers, want 1", i, n)
		}
		buf := bufs.get()
		if first == nil {
			first = buf
		} else if &buf[0] != &first[0] {
			t.Fatalf("apply %d used a fresh buffer, not the recycled one", i)
		}
		bufs.put(buf)
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
	b, buf := st.syncBatch(maxRecycledBatch + 1<<20)
	if err := b.Set([]byte{'x'}, make([]byte, maxRecycledBatch), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	st.releaseSyncBatch(b, buf, true)
	if n := st.syncBufs.recycled(); n != 0 {
		t.Fatalf("a %d MiB batch's buffer was recycled", maxRecycledBatch>>20)
	}
	small, sbuf := st.syncBatch(1 << 10)
	if err := small.Set([]byte{'y'}, []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	st.releaseSyncBatch(small, sbuf, false)
	if n := st.syncBufs.recycled(); n != 0 {
		t.Fatal("the buffer of an uncommitted batch was recycled")
	}
}

// More batches than syncBatchBufs wait for one to be released instead of allocating a buffer
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
	for range syncBatchBufs {
		b, buf := st.syncBatch(1 << 10)
		hs = append(hs, held{b, buf})
	}
	got := make(chan []byte)
	go func() {
		b, buf := st.syncBatch(1 << 10)
		b.Close()
		got <- buf
	}()
	select {
	case <-got:
		t.Fatalf("batch %d got a buffer while %d were filling", syncBatchBufs+1, syncBatchBufs)
	case <-time.After(100 * time.Millisecond):
	}
	if err := hs[0].b.Set([]byte{'x'}, []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	if err := hs[0].b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	st.releaseSyncBatch(hs[0].b, hs[0].buf, true)
	if buf := <-got; &buf[0] != &hs[0].buf[0] {
		t.Fatal("the waiting batch allocated a buffer instead of taking the released one")
	}
}
