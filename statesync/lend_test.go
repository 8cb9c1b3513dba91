package statesync

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/hpfs/hpnode/merkle"
)

// recyclingSource answers from buffers it gets back through Proof.Release, and overwrites a
// buffer as soon as it is released, as a recycled buffer's next use would.
type recyclingSource struct {
	ProofSource
	mu               sync.Mutex
	served, released int
}

func (s *recyclingSource) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error) {
	p, err := s.ProofSource.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return p, err
	}
	buf := make([]byte, ResponseHeadroom+len(p.Bytes), ResponseHeadroom+len(p.Bytes)+ResponseTailroom)
	copy(buf[ResponseHeadroom:], p.Bytes)
	p.Buf, p.Bytes = buf, buf[ResponseHeadroom:]
	s.mu.Lock()
	s.served++
	s.mu.Unlock()
	p.Release = func() {
		clear(buf[:cap(buf)])
		s.mu.Lock()
		s.released++
		s.mu.Unlock()
	}
	return p, nil
}

// lendingSink lends its own buffers and counts the proofs applied from them, and the calls to
// CloseIdle with the buffers still out at that moment.
type lendingSink struct {
	*StoreSink
	lent, returned, appliedInPlace atomic.Int64
	closedIdle, outAtClose         atomic.Int64
}

func (s *lendingSink) CloseIdle() {
	s.closedIdle.Add(1)
	s.outAtClose.Add(s.lent.Load() - s.returned.Load())
}

type lent struct {
	s   *lendingSink
	buf []byte
}

func (s *lendingSink) LendBuffer(context.Context) (LentBuffer, error) {
	s.lent.Add(1)
	return &lent{s: s, buf: make([]byte, 8<<20)}, nil
}

func (b *lent) Bytes() []byte { return b.buf }
func (b *lent) Release()      { clear(b.buf); b.s.returned.Add(1) }
func (b *lent) Apply(ctx context.Context, req ApplyRequest) (ApplyResult, error) {
	p0, b0 := uintptr(unsafe.Pointer(unsafe.SliceData(req.Proof))), uintptr(unsafe.Pointer(unsafe.SliceData(b.buf)))
	if p0 >= b0 && p0 < b0+uintptr(len(b.buf)) {
		b.s.appliedInPlace.Add(1)
	}
	return b.s.StoreSink.Apply(ctx, req)
}

// TestBuffersLentAndRecycledAcrossTheWireComeBackIntact: a server answering from buffers it
// recycles gets each one back once its response was sent, a client reading into buffers its
// sink lends applies the proofs in place and returns every buffer, and the copy is exact
// although each buffer is overwritten as soon as it is given back. The sink is told to close
// what it keeps idle once, when Run returns and no buffer is out any more.
func TestBuffersLentAndRecycledAcrossTheWireComeBackIntact(t *testing.T) {
	files := genFiles(300, 5000, 3)
	var root merkle.Hash
	var sources []*recyclingSource
	c := newCluster(t, 2, func(st merkle.NodeStore) []merkle.Hash {
		root = buildTree(t, st, merkle.EmptyRoot(), files)
		return []merkle.Hash{root}
	}, func(_ int, s ProofSource) ProofSource {
		rs := &recyclingSource{ProofSource: s}
		sources = append(sources, rs)
		return rs
	})
	local := merkle.NewMemStore()
	sink := &lendingSink{StoreSink: NewStoreSink(local, testParams)}
	cl := syncClient(c, sink, Config{Scheduler: SchedulerConfig{MaxBytes: 64 << 10, MaxInFlight: 4, PerPeer: 2}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Run(ctx, root); err != nil {
		t.Fatal(err)
	}
	checkTree(t, local, root, files)
	if n := sink.appliedInPlace.Load(); n == 0 || sink.lent.Load() != sink.returned.Load() {
		t.Fatalf("%d proofs applied from lent buffers; %d lent, %d returned", n, sink.lent.Load(), sink.returned.Load())
	}
	if sink.closedIdle.Load() != 1 || sink.outAtClose.Load() != 0 {
		t.Fatalf("CloseIdle called %d times, with %d buffers out", sink.closedIdle.Load(), sink.outAtClose.Load())
	}
	served := 0
	for _, s := range sources {
		s.mu.Lock()
		served += s.served
		if s.served != s.released {
			// A release runs after the response is written; the requester may be done
			// before it, so wait for it a little.
			s.mu.Unlock()
			deadline := time.Now().Add(10 * time.Second)
			for {
				s.mu.Lock()
				if s.served == s.released || time.Now().After(deadline) {
					break
				}
				s.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}
		if s.served != s.released {
			t.Errorf("a server served %d proofs and got %d buffers back", s.served, s.released)
		}
		s.mu.Unlock()
	}
	if served == 0 {
		t.Fatal("no proof was served from a recycled buffer")
	}
}
