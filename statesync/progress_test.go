package statesync

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestProgressIsLoggedPeriodicallyAndReachesDone slows every request down so the sync spans
// several log intervals, and checks the periodic line, the estimates and the final state.
func TestProgressIsLoggedPeriodicallyAndReachesDone(t *testing.T) {
	src, root := serverFixture(t)
	srv := NewServer(src, ServerConfig{Logger: quietLogger()})
	net := &fakeNet{peers: []p2p.PeerID{pid(1)}, do: func(ctx context.Context, from p2p.PeerID, req []byte) ([]byte, error) {
		time.Sleep(20 * time.Millisecond)
		return srv.Handle(ctx, from, req)
	}}
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cl := NewClient(net, NewStoreSink(merkle.NewMemStore(), testParams), Config{Logger: log, LogInterval: 50 * time.Millisecond,
		Scheduler: SchedulerConfig{MaxEntries: 10, MaxInFlight: 1}})
	var mid ProgressSnapshot
	done := make(chan error, 1)
	go func() { done <- cl.Run(context.Background(), root) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p := cl.Progress(); p.Entries > 0 && !p.Done {
			mid = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no progress seen mid-sync")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if mid.Percent <= 0 || mid.Percent >= 100 || mid.TotalEntries == 0 || mid.Target != root {
		t.Fatalf("mid-sync snapshot %+v: want a percent in (0,100) from the servers' totals", mid)
	}
	end := cl.Progress()
	if !end.Done || end.Percent != 100 || end.ETA != 0 || end.Rate <= 0 || end.Entries < mid.Entries {
		t.Fatalf("final snapshot %+v", end)
	}
	out := logs.String()
	if n := strings.Count(out, "statesync: progress"); n < 2 {
		t.Fatalf("%d progress lines, want several:\n%s", n, out)
	}
	for _, key := range []string{"percent=", "entries=", "bytes=", "rate_mb_s=", "eta="} {
		if !strings.Contains(out, key) {
			t.Fatalf("progress line lacks %s:\n%s", key, out)
		}
	}
	if !strings.Contains(out, "statesync: done") {
		t.Fatalf("no done line:\n%s", out)
	}
}
