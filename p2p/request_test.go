package p2p

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const kindTestReq Kind = 40

// onBothTransports runs a request test with requests on lanes and on QUIC streams.
func onBothTransports(t *testing.T, test func(t *testing.T, lanes bool)) {
	t.Run("lanes", func(t *testing.T) { test(t, true) })
	t.Run("quic", func(t *testing.T) { test(t, false) })
}

// requestConfig is fastConfig with lanes on or off.
func requestConfig(t *testing.T, lanes bool) Config {
	c := fastConfig(newKey(t))
	c.DisableLanes = !lanes
	return c
}

// laneCount is the number of lanes n has open with the peer id, both directions.
func laneCount(n *testNode, id PeerID) int {
	p := n.peer(id)
	if p == nil {
		return 0
	}
	return p.lanes.count()
}

func TestRequestRoundTrip(t *testing.T) { onBothTransports(t, testRequestRoundTrip) }

func testRequestRoundTrip(t *testing.T, lanes bool) {
	a := startNode(t, requestConfig(t, lanes))
	a.HandleRequest(kindTestReq, func(_ context.Context, _ PeerID, req []byte) ([]byte, error) {
		return bytes.Repeat(req, 1000), nil
	})
	b := connectPair(t, a, requestConfig(t, lanes))
	resp, err := b.Request(context.Background(), a.ID(), kindTestReq, []byte("ab"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp) != strings.Repeat("ab", 1000) {
		t.Fatalf("response of %d bytes is wrong", len(resp))
	}
	if b.met.In(a.ID(), kindTestReq).Bytes < 2000 {
		t.Fatal("response bytes not counted")
	}
	if got := laneCount(b, a.ID()); lanes != (got == 1) {
		t.Fatalf("lanes %v: requester has %d lanes", lanes, got)
	}
}

func TestRequestErrors(t *testing.T) { onBothTransports(t, testRequestErrors) }

func testRequestErrors(t *testing.T, lanes bool) {
	acfg := requestConfig(t, lanes)
	acfg.MaxRequestSize = 1 << 10
	acfg.MaxResponseSize = 1 << 20
	a := startNode(t, acfg)
	a.HandleRequest(kindTestReq, func(_ context.Context, _ PeerID, req []byte) ([]byte, error) {
		switch string(req) {
		case "big":
			return make([]byte, 4<<10), nil
		case "huge":
			return make([]byte, 2<<20), nil
		}
		return nil, errors.New("no such thing")
	})
	bcfg := requestConfig(t, lanes)
	bcfg.MaxRequestSize = 1 << 20 // b may send more than a accepts
	b := connectPair(t, a, bcfg)
	ctx := context.Background()

	if _, err := b.Request(ctx, a.ID(), kindTestReq, []byte("big"), 1<<10); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("response over requester bound: %v", err)
	}
	if _, err := b.Request(ctx, a.ID(), kindTestReq, []byte("huge"), 4<<20); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("response over server bound: %v", err)
	}
	if _, err := b.Request(ctx, a.ID(), kindTestReq, []byte("what"), 1<<10); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "no such thing") {
		t.Fatalf("handler error: %v", err)
	}
	if _, err := b.Request(ctx, a.ID(), kindTestReq+1, nil, 1<<10); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := b.Request(ctx, a.ID(), kindTestReq, make([]byte, 64<<10), 1<<10); err == nil {
		t.Fatal("request over server bound answered")
	}
	eventually(t, 15*time.Second, "oversized request counted bad", func() bool { return a.met.Drops("bad") >= 1 })
	if n := a.met.Drops("bad"); n != 1 {
		t.Fatalf("oversized request counted bad %d times", n)
	}
	if _, err := a.Request(ctx, b.ID(), kindTestReq, make([]byte, 2<<10), 1<<10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("request over own bound: %v", err)
	}
	if _, err := b.Request(ctx, PeerID{1}, kindTestReq, nil, 1); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("unknown peer: %v", err)
	}
	// The connection survives all of the above.
	if _, err := b.Request(ctx, a.ID(), kindTestReq, []byte("big"), 1<<20); err != nil {
		t.Fatal(err)
	}
}

// TestRequestDeadlineAndCancelReachHandler: the requester's deadline and
// cancellation both end the server handler's context.
func TestRequestDeadlineAndCancelReachHandler(t *testing.T) {
	onBothTransports(t, testRequestDeadlineAndCancelReachHandler)
}

func testRequestDeadlineAndCancelReachHandler(t *testing.T, lanes bool) {
	a := startNode(t, requestConfig(t, lanes))
	ended := make(chan error, 2)
	started := make(chan struct{}, 2)
	a.HandleRequest(kindTestReq, func(ctx context.Context, _ PeerID, _ []byte) ([]byte, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
		case <-time.After(20 * time.Second):
			ended <- errors.New("handler never cancelled")
		}
		return nil, ctx.Err()
	})
	b := connectPair(t, a, requestConfig(t, lanes))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := b.Request(ctx, a.ID(), kindTestReq, nil, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	if err := <-ended; err == nil || strings.Contains(err.Error(), "never") {
		t.Fatalf("handler after deadline: %v", err)
	}

	<-started // the first request's
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel2()
	}()
	if _, err := b.Request(ctx2, a.ID(), kindTestReq, nil, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	select {
	case err := <-ended:
		if err == nil || strings.Contains(err.Error(), "never") {
			t.Fatalf("handler after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancellation did not reach the handler")
	}
}

// TestReleasingHandlerGetsItsBufferBackAfterTheResponse: a handler answering from a buffer it
// recycles gets it back exactly once per request, after the response was written (the
// requester sees the bytes as they were when the handler returned, although the release
// overwrites them), and also when it answered with an error.
func TestReleasingHandlerGetsItsBufferBackAfterTheResponse(t *testing.T) {
	onBothTransports(t, testReleasingHandlerGetsItsBufferBackAfterTheResponse)
}

func testReleasingHandlerGetsItsBufferBackAfterTheResponse(t *testing.T, lanes bool) {
	a := startNode(t, requestConfig(t, lanes))
	released := make(chan string, 4)
	a.HandleRequestReleasing(kindTestReq, func(_ context.Context, _ PeerID, req []byte) ([]byte, func(), error) {
		buf := bytes.Repeat(req, 100_000)
		release := func() {
			clear(buf) // a recycled buffer is overwritten by its next use
			released <- string(req)
		}
		if string(req) == "err" {
			return nil, release, errors.New("refused")
		}
		return buf, release, nil
	})
	b := connectPair(t, a, requestConfig(t, lanes))
	resp, err := b.Request(context.Background(), a.ID(), kindTestReq, []byte("xy"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp, bytes.Repeat([]byte("xy"), 100_000)) {
		t.Fatal("the response was changed by its release")
	}
	if got := <-released; got != "xy" {
		t.Fatalf("released %q", got)
	}
	if _, err := b.Request(context.Background(), a.ID(), kindTestReq, []byte("err"), 1<<20); !errors.Is(err, ErrRemote) {
		t.Fatalf("handler error: %v", err)
	}
	if got := <-released; got != "err" {
		t.Fatalf("released %q", got)
	}
	select {
	case got := <-released:
		t.Fatalf("released %q twice", got)
	default:
	}
}
