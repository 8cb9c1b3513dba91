package hpfs

import (
	"bytes"
	"errors"
	"slices"

	"github.com/hpfs/hpnode/merkle"
)

// proofStore is the merkle.NodeStore a proof is built from: the daemon's store, read ahead in
// key order. merkle asks for one object at a time by hash, and a point Get per object (a fresh
// iterator stack over every sstable) was most of the cost of serving a proof; so when a node is
// read, the children it names are looked up together through one iterator (lookupSorted), and
// the walk that follows finds them in memory. It lives for one proof and is not safe for
// concurrent use.
type proofStore struct {
	*Store
	ahead map[cacheKey][]byte
	// nodeBudget and leafBudget bound the bytes read ahead: a proof stops at its byte limit,
	// and what it does not reach was read for nothing.
	nodeBudget, leafBudget int
	// arena holds the leaves read ahead, one after another: a proof's leaves are one or two
	// huge-page allocations instead of one fresh allocation each, whose page faults (one per
	// 4 KiB) cost as much as the copy itself. Leaves are immutable once copied in.
	arena []byte
}

// proofReadAhead is the node bytes one proof may read ahead; leaves get the proof's byte limit
// plus one leaf.
const proofReadAhead = 32 << 20

// newProofStore returns the store one proof is built from. sc, when not nil, lends its arena
// (see proofScratch); the caller hands it back with sc.keep once the proof is written.
func newProofStore(s *Store, maxBytes int, sc *proofScratch) *proofStore {
	p := &proofStore{Store: s, ahead: map[cacheKey][]byte{}, nodeBudget: proofReadAhead,
		leafBudget: maxBytes + s.params.LeafSize}
	if sc != nil {
		p.arena = sc.arena[:0]
	}
	return p
}

// proofScratch is the leaf arena a binary-mode connection reuses from proof to proof: a fresh
// arena per proof costs a page fault per 2 MiB and the zeroing of megabytes, about as much as
// copying the leaves into it. A connection builds and writes one proof at a time, so the
// previous proof's leaves are written to the socket before the next proof overwrites them.
type proofScratch struct{ arena []byte }

// maxKeptArena bounds the arena a connection keeps between proofs.
const maxKeptArena = 64 << 20

// keep takes back the arena a proof store used last.
func (sc *proofScratch) keep(p *proofStore) {
	if sc != nil && cap(p.arena) <= maxKeptArena && cap(p.arena) >= cap(sc.arena) {
		sc.arena = p.arena
	}
}

// GetNode implements merkle.NodeStore.
func (p *proofStore) GetNode(h merkle.Hash) ([]byte, error) {
	if v, ok := p.ahead[cacheKey{tagNode, h}]; ok {
		return v, nil
	}
	data, err := p.Store.GetNode(h)
	if err != nil {
		return nil, err
	}
	p.readAhead(data)
	return data, nil
}

// GetLeaf implements merkle.NodeStore.
func (p *proofStore) GetLeaf(h merkle.Hash) ([]byte, error) {
	if v, ok := p.ahead[cacheKey{tagLeaf, h}]; ok {
		return v, nil
	}
	return p.Store.GetLeaf(h)
}

// readAhead loads the children of a node. It is an optimisation only: any failure leaves the
// objects to be read one by one.
func (p *proofStore) readAhead(data []byte) {
	nodes, leaves, err := merkle.NodeRefs(data)
	if err != nil {
		return
	}
	want := func(tag byte, hs []merkle.Hash) [][]byte {
		var keys [][]byte
		for _, h := range hs {
			if _, ok := p.ahead[cacheKey{tag, h}]; ok {
				continue
			}
			if _, ok := p.cache.get(tag, h); ok {
				continue
			}
			keys = append(keys, objKey(tag, h))
		}
		slices.SortFunc(keys, bytes.Compare)
		return slices.CompactFunc(keys, bytes.Equal)
	}
	if p.nodeBudget > 0 {
		_ = p.lookupSorted(tagNode, want(tagNode, nodes), func(k, v []byte) error {
			if p.nodeBudget <= 0 {
				return errStopReadAhead
			}
			p.nodeBudget -= len(v)
			p.ahead[cacheKey{tagNode, merkle.Hash(k[1:])}] = bytes.Clone(v)
			return nil
		})
	}
	if p.leafBudget > 0 {
		_ = p.lookupSorted(tagLeaf, want(tagLeaf, leaves), func(k, v []byte) error {
			if p.leafBudget <= 0 {
				return errStopReadAhead
			}
			d, err := decodeLeaf(v, p.params.LeafSize)
			if err != nil {
				return err
			}
			p.leafBudget -= len(d)
			p.ahead[cacheKey{tagLeaf, merkle.Hash(k[1:])}] = p.keepLeaf(d)
			return nil
		})
	}
}

// keepLeaf copies a leaf read ahead into the arena (a new one, sized for the rest of the leaf
// budget, when it does not fit) and returns the copy.
func (p *proofStore) keepLeaf(d []byte) []byte {
	if cap(p.arena)-len(p.arena) < len(d) {
		p.arena = hugeAlloc(len(d) + max(p.leafBudget, 0))[:0]
	}
	n := len(p.arena)
	p.arena = append(p.arena, d...)
	return p.arena[n:len(p.arena):len(p.arena)]
}

// errStopReadAhead ends a read-ahead whose budget is spent.
var errStopReadAhead = errors.New("read-ahead budget spent")
