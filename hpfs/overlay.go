package hpfs

import (
	"sync"

	"github.com/hpfs/hpnode/merkle"
)

// StateDir and PatchFile are the two names of the tree root (see the merkle contract).
const (
	StateDir  = "state"
	PatchFile = "patch.cfg"
)

// Overlay is an in-memory merkle.NodeStore over a base store: puts stay in memory, gets fall
// through to the base. An rw session's Editor writes into one; Store.Commit writes exactly the
// objects the new root reaches and drops the rest, so an abandoned overlay costs nothing on disk.
type Overlay struct {
	base merkle.NodeStore

	mu     sync.RWMutex
	nodes  map[merkle.Hash][]byte
	leaves map[merkle.Hash][]byte
	// enc holds the stored encoding of leaves whose encoding was decided when they were hashed
	// (PutLeafEncoded); a nil value means raw. The commit then neither scans them again nor
	// sizes its batch by their decoded bytes.
	enc map[merkle.Hash][]byte
}

var _ merkle.NodeStore = (*Overlay)(nil)

// NewOverlay returns an empty overlay over base.
func NewOverlay(base merkle.NodeStore) *Overlay {
	return &Overlay{base: base, nodes: map[merkle.Hash][]byte{}, leaves: map[merkle.Hash][]byte{},
		enc: map[merkle.Hash][]byte{}}
}

// GetNode implements merkle.NodeStore.
func (o *Overlay) GetNode(h merkle.Hash) ([]byte, error) {
	o.mu.RLock()
	v, ok := o.nodes[h]
	o.mu.RUnlock()
	if ok {
		return v, nil
	}
	return o.base.GetNode(h)
}

// GetLeaf implements merkle.NodeStore.
func (o *Overlay) GetLeaf(h merkle.Hash) ([]byte, error) {
	o.mu.RLock()
	v, ok := o.leaves[h]
	sparse := o.enc[h]
	o.mu.RUnlock()
	if ok && v == nil && sparse != nil {
		return decodeLeaf(sparse, maxLeafValue)
	}
	if ok {
		return v, nil
	}
	return o.base.GetLeaf(h)
}

// maxLeafValue bounds a decoded pending leaf (any leaf size the store accepts).
const maxLeafValue = 1 << 30

// PutNode implements merkle.NodeStore.
func (o *Overlay) PutNode(h merkle.Hash, data []byte) error {
	o.mu.Lock()
	o.nodes[h] = data
	o.mu.Unlock()
	return nil
}

// PutLeaf implements merkle.NodeStore.
func (o *Overlay) PutLeaf(h merkle.Hash, data []byte) error {
	o.mu.Lock()
	o.leaves[h] = data
	o.mu.Unlock()
	return nil
}

// PutLeafEncoded is PutLeaf with the leaf's sparse encoding already computed (encodeSparse:
// nil for a leaf stored raw). data may be nil when sparse is not: GetLeaf then decodes.
func (o *Overlay) PutLeafEncoded(h merkle.Hash, data, sparse []byte) {
	o.mu.Lock()
	o.leaves[h] = data
	o.enc[h] = sparse
	o.mu.Unlock()
}

// pendingEnc returns a pending leaf's known sparse encoding (nil: raw) and whether it is known.
func (o *Overlay) pendingEnc(h merkle.Hash) ([]byte, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	e, ok := o.enc[h]
	return e, ok
}

func (o *Overlay) pending(tag byte, h merkle.Hash) ([]byte, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if tag == tagLeaf {
		v, ok := o.leaves[h]
		return v, ok
	}
	v, ok := o.nodes[h]
	return v, ok
}

// bytes is the total size of the objects held.
func (o *Overlay) bytes() int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	n := 0
	for _, v := range o.nodes {
		n += len(v) + 40
	}
	for h, v := range o.leaves {
		if e := o.enc[h]; e != nil {
			n += len(e) + 40
			continue
		}
		n += len(v) + 40
	}
	return n
}
