package hpfs

import (
	"container/list"
	"sync"

	"github.com/hpfs/hpnode/merkle"
)

// objCache is a byte-bounded LRU of stored objects. Objects are content-addressed and immutable,
// so an entry can never be stale; it saves the pebble read and copy on the hot read paths
// (lookups walk the same directory nodes, random reads hit the same leaves).
type objCache struct {
	mu    sync.Mutex
	limit int
	size  int
	ll    *list.List // front = most recent
	m     map[cacheKey]*list.Element
}

type cacheKey struct {
	tag byte
	h   merkle.Hash
}

type cacheEntry struct {
	k    cacheKey
	data []byte
}

func newObjCache(limit int) *objCache {
	return &objCache{limit: limit, ll: list.New(), m: map[cacheKey]*list.Element{}}
}

// get returns the cached bytes; callers must not modify them.
func (c *objCache) get(tag byte, h merkle.Hash) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[cacheKey{tag, h}]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).data, true
}

func (c *objCache) put(tag byte, h merkle.Hash, data []byte) {
	if len(data) > c.limit/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{tag, h}
	if _, ok := c.m[k]; ok {
		return
	}
	c.m[k] = c.ll.PushFront(&cacheEntry{k: k, data: data})
	c.size += len(data)
	for c.size > c.limit {
		old := c.ll.Back()
		ent := old.Value.(*cacheEntry)
		c.ll.Remove(old)
		delete(c.m, ent.k)
		c.size -= len(ent.data)
	}
}
