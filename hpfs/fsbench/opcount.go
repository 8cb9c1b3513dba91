package fsbench

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hpfs/hpnode/hpfs"
)

// opCounter counts FUSE requests by opcode from go-fuse's debug log ("rx UNIQUE: OPCODE nNODEID
// ..."), so the bench can show how many kernel round trips each workload costs, and for each
// opcode the node it was most often about (n1 is the mount root; a count equal to the
// workload's file count on one node says the kernel asks about a shared directory each time).
type opCounter struct {
	mu     sync.Mutex
	counts map[string]int
	nodes  map[string]map[string]int // opcode → node id → requests
}

func newOpCounter() *opCounter {
	return &opCounter{counts: map[string]int{}, nodes: map[string]map[string]int{}}
}

// Write implements io.Writer for log.Logger: one call per log line.
func (c *opCounter) Write(p []byte) (int, error) {
	op, node, ok := hpfs.ParseRequestLog(p)
	if !ok {
		return len(p), nil
	}
	c.mu.Lock()
	c.counts[op]++
	if len(node) > 1 && node[0] == 'n' {
		m := c.nodes[op]
		if m == nil {
			m = map[string]int{}
			c.nodes[op] = m
		}
		m[node]++
	}
	c.mu.Unlock()
	return len(p), nil
}

// take returns the counts so far as "OP n [on NODE m], ..." (most frequent first; the node part
// when one node got more than one request of the kind) and resets them.
func (c *opCounter) take() string {
	c.mu.Lock()
	m, nodes := c.counts, c.nodes
	c.counts, c.nodes = map[string]int{}, map[string]map[string]int{}
	c.mu.Unlock()
	type kv struct {
		op string
		n  int
	}
	var all []kv
	total := 0
	for op, n := range m {
		all = append(all, kv{op, n})
		total += n
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].op < all[j].op })
	parts := []string{fmt.Sprintf("total %d", total)}
	for _, e := range all {
		s := fmt.Sprintf("%s %d", e.op, e.n)
		top, topN := "", 0
		for id, k := range nodes[e.op] {
			if k > topN || k == topN && id < top {
				top, topN = id, k
			}
		}
		if topN > 1 {
			s += fmt.Sprintf(" (%d on %s)", topN, top)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
