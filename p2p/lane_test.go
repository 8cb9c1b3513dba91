package p2p

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLaneRefusesAKeyThatIsNotAPeer: a TLS-over-TCP connection with a valid node certificate
// whose key has no registered QUIC connection is closed without an answer.
func TestLaneRefusesAKeyThatIsNotAPeer(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	var served atomic.Int32
	a.HandleRequest(kindTestReq, func(context.Context, PeerID, []byte) ([]byte, error) {
		served.Add(1)
		return []byte("secret"), nil
	})
	srv, cli, err := tlsConfigs(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	_, laneCli := laneTLS(srv, cli)
	c, err := tls.Dial("tcp", a.Addr().String(), laneCli)
	if err != nil {
		t.Fatalf("lane handshake: %v", err)
	}
	defer c.Close()
	r := request{Kind: kindTestReq, TimeoutMs: 1000}
	c.Write(appendFrame(nil, r.encode()))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.ReadAll(c); len(n) != 0 || err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("stranger's lane got %d bytes, %v", len(n), err)
	}
	if served.Load() != 0 {
		t.Fatal("a stranger's request was served")
	}
}

// TestLaneWrongALPNIsRefused: the QUIC ALPN is not accepted on the lane port.
func TestLaneWrongALPNIsRefused(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	_, cli, err := tlsConfigs(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := tls.Dial("tcp", a.Addr().String(), cli); err == nil {
		c.Close()
		t.Fatal("a handshake offering only the QUIC ALPN succeeded on the lane port")
	}
}

// TestRequestsFallBackToQUICWithoutALane: a peer that accepts no lanes is still answered, over
// QUIC streams, and the requester stops dialing for laneRetryAfter.
func TestRequestsFallBackToQUICWithoutALane(t *testing.T) {
	acfg := fastConfig(newKey(t))
	acfg.DisableLanes = true
	a := startNode(t, acfg)
	a.HandleRequest(kindTestReq, func(_ context.Context, _ PeerID, req []byte) ([]byte, error) { return req, nil })
	b := connectPair(t, a, fastConfig(newKey(t)))
	for range 3 {
		resp, err := b.Request(context.Background(), a.ID(), kindTestReq, []byte("x"), 10)
		if err != nil || string(resp) != "x" {
			t.Fatalf("request without a lane: %q, %v", resp, err)
		}
	}
	if n := laneCount(b, a.ID()); n != 0 {
		t.Fatalf("%d lanes to a peer without a lane listener", n)
	}
	if got := strings.Count(b.logs.String(), "no lane to peer"); got != 1 {
		t.Fatalf("dialed the missing lane %d times, want once per laneRetryAfter", got)
	}
}

// TestLaneClosedAsIdleIsRedialed: a server closes a lane idle for its IdleTimeout; a requester
// that still holds it as idle sends its next request again on a new lane, and the handler
// runs once per request.
func TestLaneClosedAsIdleIsRedialed(t *testing.T) {
	acfg := fastConfig(newKey(t))
	acfg.IdleTimeout = time.Second
	a := startNode(t, acfg)
	var served atomic.Int32
	a.HandleRequest(kindTestReq, func(_ context.Context, _ PeerID, req []byte) ([]byte, error) {
		served.Add(1)
		return req, nil
	})
	b := connectPair(t, a, fastConfig(newKey(t))) // reuses idle lanes for 2.5 s
	for i := range 2 {
		if resp, err := b.Request(context.Background(), a.ID(), kindTestReq, []byte("x"), 10); err != nil || string(resp) != "x" {
			t.Fatalf("request %d: %q, %v", i, resp, err)
		}
		if i == 0 {
			eventually(t, 10*time.Second, "server closes the idle lane", func() bool { return laneCount(a, b.ID()) == 0 })
		}
	}
	if n := served.Load(); n != 2 {
		t.Fatalf("handler ran %d times for 2 requests", n)
	}
	if n := laneCount(b, a.ID()); n != 1 {
		t.Fatalf("requester holds %d lanes, want the redialed one", n)
	}
	if ps := b.Peers(); len(ps) != 1 || ps[0].Lanes != 1 {
		t.Fatalf("Peers reports %+v, want one peer with one lane", ps)
	}
}

// TestLanesAreBoundedAndBusyRequestsUseQUIC: more concurrent requests than maxLanes all get
// answers; the requester opens maxLanes lanes and sends the rest on QUIC streams.
func TestLanesAreBoundedAndBusyRequestsUseQUIC(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	const n = maxLanes + 8
	var inFlight sync.WaitGroup
	inFlight.Add(n)
	a.HandleRequest(kindTestReq, func(_ context.Context, _ PeerID, req []byte) ([]byte, error) {
		inFlight.Done()
		inFlight.Wait() // every request is in flight at once
		return req, nil
	})
	b := connectPair(t, a, fastConfig(newKey(t)))
	errs := make(chan error, n)
	for i := range n {
		go func() {
			want := string(rune('a' + i))
			resp, err := b.Request(context.Background(), a.ID(), kindTestReq, []byte(want), 10)
			if err == nil && string(resp) != want {
				err = errors.New("wrong response " + string(resp))
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := laneCount(b, a.ID()); got != maxLanes {
		t.Fatalf("requester holds %d lanes, want %d", got, maxLanes)
	}
}

// TestLaneHandshakesAreBounded: connections that never finish a lane handshake are held at
// most maxLaneHandshakes at a time (the rest closed at once), and the node still answers a
// peer's requests.
func TestLaneHandshakesAreBounded(t *testing.T) {
	a := startNode(t, fastConfig(newKey(t)))
	a.HandleRequest(kindTestReq, func(_ context.Context, _ PeerID, req []byte) ([]byte, error) { return req, nil })
	const extra = 20
	var conns []net.Conn
	for range maxLaneHandshakes + extra {
		c, err := net.Dial("tcp", a.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	time.Sleep(500 * time.Millisecond) // well within HandshakeTimeout
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); errors.Is(err, io.EOF) || err != nil && strings.Contains(err.Error(), "reset") {
			closed++
		}
	}
	if closed != extra {
		t.Fatalf("%d of %d silent connections closed at once, want %d", closed, len(conns), extra)
	}
	b := connectPair(t, a, fastConfig(newKey(t)))
	if resp, err := b.Request(context.Background(), a.ID(), kindTestReq, []byte("x"), 10); err != nil || string(resp) != "x" {
		t.Fatalf("request during a handshake flood: %q, %v", resp, err)
	}
}
