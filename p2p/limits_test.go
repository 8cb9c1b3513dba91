package p2p

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

func TestPerHostLimitRefusesExtraInbound(t *testing.T) {
	cfg := fastConfig(newKey(t))
	cfg.MaxConnsPerHost = 1
	a := startNode(t, cfg)
	connectPair(t, a, fastConfig(newKey(t)))
	r := dialRaw(t, a.Addr(), newKey(t)) // same host, 127.0.0.1
	_, _, err := r.handshake(testContract, nil)
	re := wantRefusal(t, err, RefuseCapacity)
	if re.Reason != "per-host connection limit" {
		t.Fatalf("reason %q", re.Reason)
	}
}

func TestMaxConnectionsRefusesExtraPeer(t *testing.T) {
	cfg := fastConfig(newKey(t))
	cfg.MaxConnections = 1
	a := startNode(t, cfg)
	connectPair(t, a, fastConfig(newKey(t)))
	r := dialRaw(t, a.Addr(), newKey(t))
	_, _, err := r.handshake(testContract, nil)
	wantRefusal(t, err, RefuseCapacity)
	if len(a.Peers()) != 1 {
		t.Fatalf("%d peers, cap 1", len(a.Peers()))
	}
}

// TestReannounceRefreshesRecord: a node re-signs its record every
// ReannounceInterval and its peers store the newer one.
func TestReannounceRefreshesRecord(t *testing.T) {
	cfg := fastConfig(newKey(t))
	cfg.RecordExpiry = time.Minute
	cfg.ReannounceInterval = 200 * time.Millisecond
	a := startNode(t, cfg)
	b := connectPair(t, a, fastConfig(newKey(t)))
	eventually(t, 15*time.Second, "b has a's record", func() bool { return len(b.KnownPeers()) == 1 })
	first := b.KnownPeers()[0].Time
	eventually(t, 15*time.Second, "b has a newer record of a", func() bool { return b.KnownPeers()[0].Time.After(first) })
}

// TestExpiredRecordsNotGossiped: records past RecordExpiry stay as dial
// hints but are not handed to peers.
func TestExpiredRecordsNotGossiped(t *testing.T) {
	key := newKey(t)
	now := time.Unix(1_800_000_000, 0)
	old, err := SignRecord(key, testContract, "10.0.0.1:1", now.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	bk := newBook(PeerID{1}, nil, time.Second, time.Minute)
	bk.add(old)
	if len(bk.fresh(now, time.Hour)) != 0 {
		t.Fatal("expired record offered for gossip")
	}
	if len(bk.known()) != 1 {
		t.Fatal("expired record dropped from dial hints")
	}
	if err := old.Verify(testContract, now, time.Hour, time.Minute); err == nil {
		t.Fatal("expired record verifies")
	}
}

// TestCloseStopsEveryGoroutine: after Close, nothing the nodes started is
// left running.
func TestCloseStopsEveryGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	a := startNode(t, fastConfig(newKey(t)))
	a.HandleRequest(kindTestReq, func(ctx context.Context, _ PeerID, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	b := connectPair(t, a, fastConfig(newKey(t)))
	c := connectPair(t, a, fastConfig(newKey(t)))
	go b.Request(context.Background(), a.ID(), kindTestReq, nil, 10) // in flight at Close
	time.Sleep(50 * time.Millisecond)
	for _, n := range []*testNode{c, b, a} {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= before+1 })
}

// TestSelfDialRefusedAndBackedOff: a node given its own address refuses
// the connection once it sees its own key, and waits the maximum backoff
// before trying that address again.
func TestSelfDialRefusedAndBackedOff(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig(newKey(t))
	cfg.PacketConn = pc
	cfg.Bootstrap = []string{pc.LocalAddr().String()}
	cfg.BackoffMax = time.Hour
	a := startNode(t, cfg)
	eventually(t, 15*time.Second, "self refusal logged", func() bool { return a.logs.count("connection to self") > 0 })
	time.Sleep(500 * time.Millisecond)
	if n := a.logs.count("dial refused"); n != 1 {
		t.Fatalf("self dial attempted %d times, want once", n)
	}
	if len(a.Peers()) != 0 {
		t.Fatal("node connected to itself")
	}
}

func TestStartTwiceAndCloseTwice(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	if err := a.Start(context.Background()); err == nil {
		t.Fatal("second Start accepted")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := a.Send(PeerID{1}, KindProposal, nil); err == nil {
		t.Fatal("send after Close accepted")
	}
}
