package fsbench

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// opCounter counts FUSE requests by opcode from go-fuse's debug log ("rx UNIQUE: OPCODE ..."),
// so the bench can show how many kernel round trips each workload costs.
type opCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func newOpCounter() *opCounter { return &opCounter{counts: map[string]int{}} }

// Write implements io.Writer for log.Logger: one call per log line.
func (c *opCounter) Write(p []byte) (int, error) {
	i := bytes.Index(p, []byte("rx "))
	if i < 0 {
		return len(p), nil
	}
	rest := p[i+3:]
	j := bytes.Index(rest, []byte(": "))
	if j < 0 {
		return len(p), nil
	}
	fields := bytes.Fields(rest[j+2:])
	if len(fields) == 0 {
		return len(p), nil
	}
	c.mu.Lock()
	c.counts[string(fields[0])]++
	c.mu.Unlock()
	return len(p), nil
}

// take returns the counts so far as "OP n, OP n" (most frequent first) and resets them.
func (c *opCounter) take() string {
	c.mu.Lock()
	m := c.counts
	c.counts = map[string]int{}
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
		parts = append(parts, fmt.Sprintf("%s %d", e.op, e.n))
	}
	return strings.Join(parts, ", ")
}
