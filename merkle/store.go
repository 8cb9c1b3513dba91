package merkle

import (
	"fmt"
	"sync"
)

// NodeStore persists the tree's immutable, content-addressed objects. hpfs implements it on
// pebble; MemStore serves tests. Nodes (directory, file, leaf-tree and symlink nodes) and leaf
// data live in separate spaces because they are looked up by different hash functions.
type NodeStore interface {
	// GetNode returns the node stored under h; the error wraps ErrNotFound when absent.
	// Callers must not modify the returned slice.
	GetNode(h Hash) ([]byte, error)
	// PutNode stores data under h = BLAKE3(data). It is idempotent.
	PutNode(h Hash, data []byte) error
	// GetLeaf returns the leaf data stored under h = LeafHash(data); wraps ErrNotFound.
	GetLeaf(h Hash) ([]byte, error)
	// PutLeaf stores leaf data under h. It is idempotent.
	PutLeaf(h Hash, data []byte) error
}

// MemStore is an in-memory NodeStore, safe for concurrent use. It copies data on Put so
// callers may reuse their buffers.
type MemStore struct {
	mu     sync.RWMutex
	nodes  map[Hash][]byte
	leaves map[Hash][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{nodes: make(map[Hash][]byte), leaves: make(map[Hash][]byte)}
}

// GetNode implements NodeStore.
func (s *MemStore) GetNode(h Hash) ([]byte, error) {
	s.mu.RLock()
	d, ok := s.nodes[h]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("node %s: %w", h, ErrNotFound)
	}
	return d, nil
}

// PutNode implements NodeStore.
func (s *MemStore) PutNode(h Hash, data []byte) error {
	s.mu.Lock()
	if _, ok := s.nodes[h]; !ok {
		s.nodes[h] = append([]byte(nil), data...)
	}
	s.mu.Unlock()
	return nil
}

// GetLeaf implements NodeStore.
func (s *MemStore) GetLeaf(h Hash) ([]byte, error) {
	s.mu.RLock()
	d, ok := s.leaves[h]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("leaf %s: %w", h, ErrNotFound)
	}
	return d, nil
}

// PutLeaf implements NodeStore.
func (s *MemStore) PutLeaf(h Hash, data []byte) error {
	s.mu.Lock()
	if _, ok := s.leaves[h]; !ok {
		s.leaves[h] = append([]byte(nil), data...)
	}
	s.mu.Unlock()
	return nil
}

// Len returns the number of nodes and leaves held.
func (s *MemStore) Len() (nodes, leaves int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.nodes), len(s.leaves)
}
