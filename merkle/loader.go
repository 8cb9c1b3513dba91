package merkle

import "fmt"

// maxCachedNodes bounds an Editor's decoded-node cache; when full it is dropped wholesale,
// which keeps the cost O(1) per miss and the memory bounded.
const maxCachedNodes = 1 << 16

// loader reads and decodes nodes, optionally caching decoded nodes. Decoded nodes are shared
// and must never be modified.
type loader struct {
	store NodeStore
	cache map[Hash]*node // nil: no caching
}

func (l *loader) load(h Hash) (*node, error) {
	if n, ok := l.cache[h]; ok {
		return n, nil
	}
	data, err := l.store.GetNode(h)
	if err != nil {
		return nil, fmt.Errorf("load node %s: %w", h, err)
	}
	n, err := decodeNode(data)
	if err != nil {
		return nil, fmt.Errorf("load node %s: %w", h, err)
	}
	l.remember(h, n)
	return n, nil
}

// remember caches a decoded node.
func (l *loader) remember(h Hash, n *node) {
	if l.cache == nil {
		return
	}
	if len(l.cache) >= maxCachedNodes {
		clear(l.cache)
	}
	l.cache[h] = n
}

// putDecoded stores a node the caller built and caches its decoded form, so the next commit
// on the same path does not decode what this one wrote.
func (l *loader) putDecoded(data []byte, n *node) (Hash, error) {
	h, err := l.put(data)
	if err == nil {
		l.remember(h, n)
	}
	return h, err
}

// loadDir loads a directory node (chunk or internal).
func (l *loader) loadDir(h Hash) (*node, error) {
	n, err := l.load(h)
	if err != nil {
		return nil, err
	}
	if !isDirNode(n.tag) {
		return nil, fmt.Errorf("node %s is a %q node: %w", h, n.tag, ErrNotDir)
	}
	return n, nil
}

// put encodes-and-stores a node, returning its hash.
func (l *loader) put(data []byte) (Hash, error) {
	h := nodeHash(data)
	if err := l.store.PutNode(h, data); err != nil {
		return h, fmt.Errorf("put node %s: %w", h, err)
	}
	return h, nil
}
