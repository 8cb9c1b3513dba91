package hpfs

import (
	"context"
	"testing"

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
		st := dst.Store()
		if n := len(st.syncBufs); n != 1 {
			t.Fatalf("after apply %d the store keeps %d batch buffers, want 1", i, n)
		}
		buf := <-st.syncBufs
		if first == nil {
			first = buf
		} else if &buf[0] != &first[0] {
			t.Fatalf("apply %d used a fresh buffer, not the recycled one", i)
		}
		st.syncBufs <- buf
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
	if n := len(st.syncBufs); n != 0 {
		t.Fatalf("a %d MiB batch's buffer was recycled", maxRecycledBatch>>20)
	}
	small, sbuf := st.syncBatch(1 << 10)
	if err := small.Set([]byte{'y'}, []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	st.releaseSyncBatch(small, sbuf, false)
	if n := len(st.syncBufs); n != 0 {
		t.Fatal("the buffer of an uncommitted batch was recycled")
	}
}
