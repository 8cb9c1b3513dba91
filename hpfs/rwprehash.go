package hpfs

import (
	"errors"
	"io"
	"os"
	"sync"

	"github.com/hpfs/hpnode/merkle"
)

// A commit hashes every dirty leaf, and after a large write that hashing is most of the commit:
// 100 MiB written in 128 KiB writes committed in ~55 ms, half of it in BLAKE3. A leaf that a
// write fills to its end has most likely been written for good (a file written front to back),
// so the scratch hashes it in the background while the session writes on, on a core the FUSE
// round trips leave idle, and the commit takes that hash instead of computing its own.
//
// The commit takes a background hash only while the slot provably holds the bytes that were
// hashed: every change to a slot's bytes or length first bumps its gen (scratch.write,
// fileData.setSize); the prehasher reads gen, then the bytes, then gen again, and records the
// hash with that gen only if both reads agree; the commit uses it only if gen still equals the
// recorded one and the leaf is the slot's whole place in the file (slot.prehashed). A write
// that overlaps the prehasher's read bumped gen before that read ended, so the hash is dropped;
// a later write leaves a newer gen, so the commit hashes the leaf itself.

// prehashQueue bounds the leaves waiting for the prehasher (4 MiB at 64 KiB leaves). When it is
// full, a leaf is left to the commit: the prehasher is an optimization, not a duty.
const prehashQueue = 64

// prehasher is the scratch's background hashing. The session's lock guards its fields; the
// worker itself touches only the slots it is sent (their gen atomically, their pre fields as
// their sole writer until stop returns).
type prehasher struct {
	jobs chan *slot    // nil while no worker runs
	stop chan struct{} // closed by stopPrehash
	wg   sync.WaitGroup
}

// prehash queues sl, a spilled slot just filled to the leaf's end, for the background hasher,
// starting it if needed. It never blocks: a full queue drops the leaf.
func (s *scratch) prehash(sl *slot) {
	if !sl.many || s.closed || sl.queued.Load() {
		return
	}
	p := &s.pre
	if p.jobs == nil {
		p.jobs, p.stop = make(chan *slot, prehashQueue), make(chan struct{})
		p.wg.Add(1)
		go func(f *os.File, jobs <-chan *slot, stop <-chan struct{}) { // stopped by stopPrehash
			defer p.wg.Done()
			runPrehash(f, s.ls, jobs, stop)
		}(s.f, p.jobs, p.stop)
	}
	sl.queued.Store(true)
	select {
	case p.jobs <- sl:
	default:
		sl.queued.Store(false)
	}
}

// stopPrehash stops the worker and waits for it, dropping the leaves still queued (the commit
// hashes those on all cores rather than wait for one). Afterwards every slot's pre fields are
// stable. It must be called before the commit reads them, and before the scratch file is
// replaced or closed (the worker reads it).
func (s *scratch) stopPrehash() {
	p := &s.pre
	if p.jobs == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	for drained := false; !drained; {
		select {
		case sl := <-p.jobs:
			sl.queued.Store(false)
		default:
			drained = true
		}
	}
	p.jobs, p.stop = nil, nil
}

// runPrehash hashes the leaves sent on jobs, reading them from f, until stop is closed.
func runPrehash(f *os.File, ls uint64, jobs <-chan *slot, stop <-chan struct{}) {
	buf := make([]byte, ls)
	for {
		select {
		case <-stop:
			return
		case sl := <-jobs:
			sl.queued.Store(false)
			gen := sl.gen.Load()
			n, err := f.ReadAt(buf, sl.off)
			if err != nil && !errors.Is(err, io.EOF) {
				continue // the commit reads and hashes the leaf itself
			}
			clear(buf[n:]) // past the file's end reads as zero, as through the commit's mapping
			h := merkle.LeafHash(buf)
			raw := encodeSparse(buf) == nil // decided here, while the bytes are hot
			if sl.gen.Load() == gen {
				sl.pre, sl.preRaw, sl.preGen = h, raw, gen
			}
		}
	}
}

// prehashed returns the background hash of the slot's leaf when it is still valid: the slot has
// not changed since it was hashed, and the leaf the commit hashes is the slot's whole place in
// the scratch file (a full leaf, spilled, its length reaching the leaf's end). raw reports
// whether the leaf is stored raw, as encodeSparse of the same bytes would decide; the commit
// then needs not read the leaf at all unless the store lacks it (a leaf written 800 times
// with the same bytes is read once). The prehasher must be stopped.
func (sl *slot) prehashed(want, ls uint64) (h merkle.Hash, raw, ok bool) {
	if !sl.many || want != ls || sl.n < ls || sl.preGen == 0 || sl.preGen != sl.gen.Load() {
		return merkle.Hash{}, false, false
	}
	return sl.pre, sl.preRaw, true
}
