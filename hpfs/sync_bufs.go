package hpfs

import (
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
)

// syncBatchBufs bounds the batch buffers a store keeps for writeSynced: one per apply that can
// run at once (the client's work limit is 12 requests, of which a few apply at a time).
const syncBatchBufs = 8

// maxRecycledBatch is the largest batch whose buffer is recycled. Pebble copies a batch into its
// memtable at commit and forgets the buffer (it pools only buffers up to 1 MiB), except a batch
// of half a memtable or more, which it keeps as a flushable memtable that references the buffer
// until it is flushed: such a buffer must never be reused. A quarter of the memtable leaves a
// margin for pebble's per-key overhead in that threshold.
const maxRecycledBatch = memTableSize / 4

// syncBatch returns a batch for writeSynced whose buffer holds size bytes without growing,
// recycled from an earlier proof when one is free: a fresh multi-megabyte buffer per proof cost
// zeroing it and a page fault per page, about 4% of a 1 GiB sync's CPU. Give it back with
// releaseSyncBatch after Commit.
func (s *Store) syncBatch(size int) (*pebble.Batch, []byte) {
	var buf []byte
	select {
	case buf = <-s.syncBufs:
		if cap(buf) < size {
			buf = nil // too small for this proof: let the collector have it
		}
	default:
	}
	if buf == nil {
		buf = hugeAlloc(max(size, hugeBatchMin))
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

// releaseSyncBatch closes b, made by syncBatch over buf, and keeps buf for the next proof if b
// was committed and pebble cannot still reference it (a batch that failed is never reused,
// as pebble itself does).
func (s *Store) releaseSyncBatch(b *pebble.Batch, buf []byte, committed bool) {
	n := len(b.Repr())
	b.Close()
	if buf == nil || !committed || n >= maxRecycledBatch {
		return
	}
	select {
	case s.syncBufs <- buf:
	default:
	}
}
