package hpfs

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
)

// pooledBatches is the number of pooled batches that fill at once (writeSynced's, and a
// commit's), each with a buffer of its own: one per apply that can run at once (the client's work limit is 12 requests, of
// which a few apply at a time). More applies wait for a buffer rather than allocate one: each
// fresh multi-megabyte buffer costs a page fault and a zeroed page per 4 KiB, and with lanes
// delivering responses in bursts, a pool that handed out spares cleared ~1 GiB of new pages
// per 1 GiB sync.
const pooledBatches = 8

// maxRecycledBatch is the largest batch whose buffer is recycled. Pebble copies a batch into its
// memtable at commit and forgets the buffer (it pools only buffers up to 1 MiB), except a batch
// of half a memtable or more, which it keeps as a flushable memtable that references the buffer
// until it is flushed: such a buffer must never be reused. A quarter of the memtable leaves a
// margin for pebble's per-key overhead in that threshold.
const maxRecycledBatch = memTableSize / 4

// pooledBatch returns a batch whose buffer holds size bytes without growing, recycled from an
// earlier batch (a proof's or a commit's) when one is free. It waits while pooledBatches batches are
// filling. Give it back with releasePooledBatch after Commit (or after a failure).
func (s *Store) pooledBatch(size int) (*pebble.Batch, []byte) {
	buf := s.batchPool.get()
	if cap(buf) < size {
		buf = hugeAlloc(max(size, hugeBatchMin)) // the smaller one goes to the collector
	}
	buf = buf[:cap(buf)]
	// A recycled buffer starts with the previous batch's header; an all-zero header is an
	// empty batch.
	clear(buf[:batchrepr.HeaderLen])
	b := s.db.NewBatch()
	if err := b.SetRepr(buf[:batchrepr.HeaderLen]); err != nil {
		// Cannot happen for a zero header; fall back to a batch of pebble's own.
		b.Close()
		return s.db.NewBatchWithSize(size), nil
	}
	return b, buf
}

// releasePooledBatch closes b, made by pooledBatch over buf, and gives back its place in the pool,
// with buf for the next batch if b was committed and pebble cannot still reference it (a batch
// that failed is never reused, as pebble itself does).
func (s *Store) releasePooledBatch(b *pebble.Batch, buf []byte, committed bool) {
	n := len(b.Repr())
	b.Close()
	if !committed || n >= maxRecycledBatch {
		buf = nil
	}
	s.batchPool.put(buf)
}

// batchBufs bounds the batches filling at once and recycles their buffers, most recently used
// first (its pages are the likeliest to be resident).
type batchBufs struct {
	slots chan struct{} // one per batch filling
	mu    sync.Mutex
	free  [][]byte // recycled buffers, most recent last; never more than cap(slots)
}

func newBatchBufs(n int) *batchBufs { return &batchBufs{slots: make(chan struct{}, n)} }

// get waits for a place among the batches filling and returns a recycled buffer, or nil.
func (p *batchBufs) get() []byte {
	p.slots <- struct{}{}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := len(p.free); k > 0 {
		buf := p.free[k-1]
		p.free = p.free[:k-1]
		return buf
	}
	return nil
}

// put gives back a place taken by get, with buf to recycle unless it is nil.
func (p *batchBufs) put(buf []byte) {
	if buf != nil {
		p.mu.Lock()
		p.free = append(p.free, buf)
		p.mu.Unlock()
	}
	<-p.slots
}

// recycled is the number of buffers waiting to be reused.
func (p *batchBufs) recycled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}
