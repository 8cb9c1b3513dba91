package contractexec

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNPLInboxBuffersAndBounds(t *testing.T) {
	in := NewNPLInbox(2)
	if !in.Push(NPLMessage{From: "a", Data: []byte("1")}) || !in.Push(NPLMessage{From: "b", Data: []byte("2")}) {
		t.Fatal("push into an empty inbox refused")
	}
	if in.Push(NPLMessage{From: "c", Data: []byte("3")}) {
		t.Fatal("push past capacity accepted")
	}
	if got := in.take(); len(got) != 2 || got[0].From != "a" || got[1].From != "b" {
		t.Fatalf("take %+v", got)
	}
	if in.Push(NPLMessage{From: "d", Data: make([]byte, MaxPacket+1)}) {
		t.Fatal("over-long message accepted")
	}
	in.Close()
	if in.Push(NPLMessage{From: "e"}) {
		t.Fatal("push after Close accepted")
	}
	if in.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", in.Dropped())
	}
}

// TestNPLUndeliveredMessagesAreCounted: messages a contract never reads (2 MB, more than any socket
// buffer holds) are reported as dropped when it ends, and nothing blocks.
func TestNPLUndeliveredMessagesAreCounted(t *testing.T) {
	s := baseSpec(t, kindGo, newContractDir(t), "sleep")
	s.Limits.Timeout = 300 * time.Millisecond
	s.NPLIn = NewNPLInbox(0)
	for range 20 {
		s.NPLIn.Push(NPLMessage{From: testKey(0xbb), Data: []byte(strings.Repeat("x", 100000))})
	}
	res := run(t, s)
	if !res.Hit(LimitTimeout) || res.NPLDropped == 0 || res.NPLDropped > 20 {
		t.Fatalf("dropped %d of 20 (%s)", res.NPLDropped, res.Summary())
	}
}

// TestConcurrentRunsAreIsolated runs read requests in parallel, as the node's read-request pool
// does: each contract sees only its own fds and its own input.
func TestConcurrentRunsAreIsolated(t *testing.T) {
	dir := newContractDir(t)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := range 8 {
		wg.Go(func() {
			s := baseSpec(t, kindGo, dir)
			s.Readonly = true
			q := fmt.Sprintf("query-%d", i)
			s.Users = []User{{PublicKey: testKey(byte(i + 1)), Inputs: inputs(q)}}
			res, err := Run(context.Background(), s)
			if got := frames(res, 0); err != nil || !slices.Equal(got, []string{"ro1:" + q, "ro2:" + q}) {
				errs <- fmt.Sprintf("run %d: %q %v", i, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
