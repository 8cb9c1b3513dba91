package userapi

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/zeebo/blake3"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// stillServes proves a session works: stat gets its reply.
func stillServes(t *testing.T, tc *testClient) {
	t.Helper()
	tc.sendMsg(bson.D{{Key: "type", Value: "stat"}})
	if m := tc.recvType("stat_response"); m["round_time"] != float64(1000) {
		t.Fatalf("stat_response %v", m)
	}
}

func expectRejected(t *testing.T, tc *testClient, reason, inputHash string) {
	t.Helper()
	m := tc.recvType("contract_input_status")
	if m["status"] != "rejected" || m["reason"] != reason || m["input_hash"] != inputHash {
		t.Fatalf("got %v, want rejected %s with input_hash %q", m, reason, inputHash)
	}
}

func TestMalformedMessagesAreRejectedAndSessionsContinue(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) {
			ts := startServer(t, newTestBackend(3), nil)
			bad := connect(t, ts.url, userKey(1), proto)
			good := connect(t, ts.url, userKey(2), proto)
			for _, raw := range [][]byte{
				[]byte(`{not json`), []byte(`[1,2]`), []byte(`null`), {0x05, 0, 0, 0}, {},
				[]byte(`{"type":5}`), []byte(`{"TYPE":"stat"}`),
				[]byte(`{"type":"stat"} {"type":"stat"}`), []byte(`{"type":"stat"}}`),
				{0x0c, 0, 0, 0, 0x02, 't', 'y', 0, 0xff, 0xff, 0xff, 0x7f}, // BSON with a bogus string length
			} {
				if err := bad.write(raw); err != nil {
					t.Fatal(err)
				}
				expectRejected(t, bad, ReasonBadMsgFormat, "")
			}
			// Each field of each message type is checked.
			for _, m := range []bson.D{
				{{Key: "type", Value: "contract_read_request"}, {Key: "id", Value: 7}},
				{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "unl_change"}},
				{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "weather"}, {Key: "enabled", Value: true}},
				{{Key: "type", Value: "ledger_query"}, {Key: "id", Value: "q"}, {Key: "filter_by", Value: "hash"}},
				{{Key: "type", Value: "ledger_query"}, {Key: "id", Value: "q"}, {Key: "filter_by", Value: "seq_no"},
					{Key: "params", Value: bson.D{{Key: "seq_no", Value: -1}}}, {Key: "include", Value: bson.A{}}},
				{{Key: "type", Value: "ledger_query"}, {Key: "id", Value: ""}, {Key: "filter_by", Value: "seq_no"},
					{Key: "params", Value: bson.D{{Key: "seq_no", Value: 1}}}, {Key: "include", Value: bson.A{}}},
				{{Key: "type", Value: "ledger_query"}, {Key: "id", Value: "q"}, {Key: "filter_by", Value: "seq_no"},
					{Key: "params", Value: bson.D{{Key: "seq_no", Value: 1}}}, {Key: "include", Value: bson.A{"blobs"}}},
				{{Key: "type", Value: "contract_input"}, {Key: "sig", Value: []byte{1}}},
			} {
				bad.sendMsg(m)
				expectRejected(t, bad, ReasonBadMsgFormat, "")
			}
			bad.sendMsg(bson.D{{Key: "type", Value: "launch_missiles"}})
			expectRejected(t, bad, ReasonInvalidMsgType, "")
			stillServes(t, bad)
			stillServes(t, good)
		})
	}
}

func TestInputWithWrongSignatureIsBadSig(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) {
			b := newTestBackend(3)
			ts := startServer(t, b, nil)
			tc := connect(t, ts.url, userKey(1), proto)
			msg, _ := tc.inputMsg("hello", 1, 5)
			sig := ed25519.Sign(userKey(9), []byte("something else"))
			msg[2].Value = sig
			tc.sendMsg(msg)
			h := blake3.Sum256(sig)
			expectRejected(t, tc, ReasonBadSig, hex.EncodeToString(h[:]))
			// A signature of the wrong length is also bad_sig, never a crash.
			msg[2].Value = []byte{1, 2, 3}
			tc.sendMsg(msg)
			h = blake3.Sum256([]byte{1, 2, 3})
			expectRejected(t, tc, ReasonBadSig, hex.EncodeToString(h[:]))
			if len(b.pending) != 0 {
				t.Fatalf("a badly signed input reached the backend")
			}
			stillServes(t, tc)
		})
	}
}

func TestInputWithMalformedContainerIsBadFormat(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) {
			ts := startServer(t, newTestBackend(3), nil)
			tc := connect(t, ts.url, userKey(1), proto)
			for _, container := range []string{`{"input":"x","nonce":0,"max_ledger_seq_no":5}`, `{"input":"x"}`, `garbage`,
				`{"input":"x","nonce":1.5,"max_ledger_seq_no":5}`, `{"input":"x","nonce":-1,"max_ledger_seq_no":5}`} {
				c := []byte(container)
				if proto == BSON {
					c, _ = bson.Marshal(bson.D{{Key: "input", Value: []byte("x")}, {Key: "nonce", Value: "1"}})
				}
				sig := ed25519.Sign(tc.key, c)
				var v any = string(c)
				if proto == BSON {
					v = c
				}
				tc.sendMsg(bson.D{{Key: "type", Value: "contract_input"}, {Key: "input_container", Value: v}, {Key: "sig", Value: sig}})
				h := blake3.Sum256(sig)
				expectRejected(t, tc, ReasonBadMsgFormat, hex.EncodeToString(h[:]))
			}
		})
	}
}

func TestImmediateRejectionsUseHotPocketReasons(t *testing.T) {
	b := newTestBackend(3)
	ts := startServer(t, b, nil)
	tc := connect(t, ts.url, userKey(1), JSON)
	b.closeLedger() // lcl 1
	cases := []struct {
		nonce, maxLedger uint64
		reason           string
	}{
		{5, 1, ReasonMaxLedgerExpired},
		{5, 50, ReasonMaxLedgerOffsetExceeded},
		{5, 5, ""},
		{5, 5, ReasonAlreadySubmitted},
		{4, 5, ReasonNonceExpired},
	}
	for _, c := range cases {
		msg, h := tc.inputMsg("x", c.nonce, c.maxLedger)
		tc.sendMsg(msg)
		if c.reason != "" {
			expectRejected(t, tc, c.reason, h.String())
		}
	}
	waitPending(t, b, 1)
}

// TestLegitimateRejectionsNeverCountAsAbuse: with a limit of 2 bad messages a minute, 20
// nonce_expired rejections leave the session open, while 3 malformed messages close it.
func TestLegitimateRejectionsNeverCountAsAbuse(t *testing.T) {
	b := newTestBackend(3)
	ts := startServer(t, b, func(c *Config) { c.MaxBadMsgsPerMin = 2 })
	tc := connect(t, ts.url, userKey(1), JSON)
	msg, _ := tc.inputMsg("first", 100, 5)
	tc.sendMsg(msg)
	for i := 0; i < 20; i++ {
		msg, h := tc.inputMsg("stale", uint64(1+i), 5)
		tc.sendMsg(msg)
		expectRejected(t, tc, ReasonNonceExpired, h.String())
	}
	stillServes(t, tc)
	for i := 0; i < 3; i++ {
		_ = tc.write([]byte("junk"))
	}
	if code, reason := expectClose(t, tc.c, 10*time.Second); code != websocket.StatusPolicyViolation || reason != CloseTooManyBadMsgs {
		t.Fatalf("close %d %q", code, reason)
	}
}

func TestOversizedMessageClosesOnlyThatSession(t *testing.T) {
	for _, c := range []struct {
		name  string
		limit int64
		size  int
	}{
		{"default limit, 10 MB", 0, 10 << 20},
		{"configured 64 KiB limit", 64 << 10, 100 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := startServer(t, newTestBackend(3), func(cfg *Config) { cfg.MaxMessageBytes = c.limit })
			big := connect(t, ts.url, userKey(1), JSON)
			other := connect(t, ts.url, userKey(2), JSON)
			msg := `{"type":"contract_read_request","id":"1","content":"` + strings.Repeat("a", c.size) + `"}`
			go func() { _ = big.write([]byte(msg)) }() // the server may close before reading it all
			if code, _ := expectClose(t, big.c, 20*time.Second); code != websocket.StatusMessageTooBig {
				t.Fatalf("close code %d, want %d", code, websocket.StatusMessageTooBig)
			}
			stillServes(t, other)
		})
	}
}

// TestMessageUnderLimitIsServed: the limit is a limit, not a cap on normal traffic.
func TestMessageUnderLimitIsServed(t *testing.T) {
	ts := startServer(t, newTestBackend(3), func(cfg *Config) { cfg.MaxMessageBytes = 64 << 10 })
	tc := connect(t, ts.url, userKey(1), JSON)
	content := strings.Repeat("b", 60<<10)
	tc.sendMsg(bson.D{{Key: "type", Value: "contract_read_request"}, {Key: "id", Value: "r1"}, {Key: "content", Value: content}})
	if m := tc.recvType("contract_read_response"); m["reply_for"] != "r1" || m["content"] != "read:"+content {
		t.Fatalf("read response of %d bytes", len(m["content"].(string)))
	}
}

func TestHandshakeDeadline(t *testing.T) {
	ts := startServer(t, newTestBackend(3), func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	// The server's deadline starts when it accepts, before dialRaw returns here: start the
	// clock before dialing so the lower bound below holds on any schedule.
	start := time.Now()
	c := dialRaw(t, ts.url)
	code, reason := expectClose(t, c, 10*time.Second)
	if code != websocket.StatusPolicyViolation || reason != CloseHandshakeTimeout {
		t.Fatalf("close %d %q", code, reason)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("closed after %v, before the deadline", waited)
	}
	// The server is still serving.
	stillServes(t, connect(t, ts.url, userKey(1), JSON))
}

func TestBadHandshakesAreClosedWithReason(t *testing.T) {
	ts := startServer(t, newTestBackend(3), nil)
	key := userKey(1)
	pub := HexKey(key.Public().(ed25519.PublicKey))
	cases := []struct {
		name   string
		resp   func(challenge string) any
		reason string
	}{
		{"not json", func(string) any { return "{{" }, CloseBadHandshake},
		{"wrong type", func(ch string) any {
			return map[string]any{"type": "stat", "sig": hex.EncodeToString(ed25519.Sign(key, []byte(ch))), "pubkey": pub, "protocol": "json"}
		}, CloseBadHandshake},
		{"unknown protocol", func(ch string) any {
			return map[string]any{"type": "user_challenge_response", "sig": hex.EncodeToString(ed25519.Sign(key, []byte(ch))), "pubkey": pub, "protocol": "xml"}
		}, CloseBadHandshake},
		{"key without ed prefix", func(ch string) any {
			return map[string]any{"type": "user_challenge_response", "sig": hex.EncodeToString(ed25519.Sign(key, []byte(ch))), "pubkey": pub[2:], "protocol": "json"}
		}, CloseBadHandshake},
		{"wrong signature", func(ch string) any {
			return map[string]any{"type": "user_challenge_response", "sig": hex.EncodeToString(ed25519.Sign(key, []byte(ch+"x"))), "pubkey": pub, "protocol": "json"}
		}, CloseBadChallengeSig},
		{"server challenge too long", func(ch string) any {
			return map[string]any{"type": "user_challenge_response", "sig": hex.EncodeToString(ed25519.Sign(key, []byte(ch))), "pubkey": pub, "protocol": "json", "server_challenge": strings.Repeat("a", 33)}
		}, CloseBadHandshake},
		{"server challenge not printable", func(ch string) any {
			return map[string]any{"type": "user_challenge_response", "sig": hex.EncodeToString(ed25519.Sign(key, []byte(ch))), "pubkey": pub, "protocol": "json", "server_challenge": "a\x00b"}
		}, CloseBadHandshake},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc := &testClient{t: t, c: dialRaw(t, ts.url)}
			ch, err := tc.readJSON()
			if err != nil {
				t.Fatal(err)
			}
			var b []byte
			if s, ok := c.resp(ch["challenge"].(string)).(string); ok {
				b = []byte(s)
			} else {
				b, _ = json.Marshal(c.resp(ch["challenge"].(string)))
			}
			if err := tc.write(b); err != nil {
				t.Fatal(err)
			}
			if code, reason := expectClose(t, tc.c, 10*time.Second); code != websocket.StatusPolicyViolation || reason != c.reason {
				t.Fatalf("close %d %q, want %q", code, reason, c.reason)
			}
		})
	}
	if n := ts.Users(); n != 0 {
		t.Fatalf("%d users registered after failed handshakes", n)
	}
}

// TestHandshakeWithoutServerChallenge: HotPocket makes server_challenge optional; without it
// the server sends no server_challenge_response and the session is live at once.
func TestHandshakeWithoutServerChallenge(t *testing.T) {
	ts := startServer(t, newTestBackend(3), nil)
	key := userKey(1)
	tc := &testClient{t: t, c: dialRaw(t, ts.url), key: key, proto: JSON}
	ch, err := tc.readJSON()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"type": "user_challenge_response", "sig": hex.EncodeToString(ed25519.Sign(key, []byte(ch["challenge"].(string)))),
		"pubkey": HexKey(key.Public().(ed25519.PublicKey)), "protocol": "json"})
	if err := tc.write(b); err != nil {
		t.Fatal(err)
	}
	stillServes(t, tc)
}

func TestDuplicateKeyConnectionIsRefused(t *testing.T) {
	ts := startServer(t, newTestBackend(3), nil)
	first := connect(t, ts.url, userKey(1), JSON)
	if _, err := tryConnect(t, ts.url, userKey(1), BSON); err == nil {
		t.Fatal("second connection with the same key completed the handshake")
	}
	stillServes(t, first)
	// The refused connection was closed with the documented reason.
	tc := &testClient{t: t, c: dialRaw(t, ts.url)}
	ch, _ := tc.readJSON()
	key := userKey(1)
	b, _ := json.Marshal(map[string]any{"type": "user_challenge_response", "sig": hex.EncodeToString(ed25519.Sign(key, []byte(ch["challenge"].(string)))),
		"pubkey": HexKey(key.Public().(ed25519.PublicKey)), "protocol": "json", "server_challenge": "abc"})
	_ = tc.write(b)
	if code, reason := expectClose(t, tc.c, 10*time.Second); code != websocket.StatusPolicyViolation || reason != CloseDuplicateUser {
		t.Fatalf("close %d %q", code, reason)
	}
	stillServes(t, first)
	// Once the first session ends, the key may connect again.
	_ = first.c.Close(websocket.StatusNormalClosure, "")
	for i := 0; ts.Users() != 0; i++ {
		if i > 500 {
			t.Fatal("first session never unregistered")
		}
		sleepMs(10)
	}
	stillServes(t, connect(t, ts.url, userKey(1), JSON))
}

func TestMaxConnectionsClosesWithReason(t *testing.T) {
	ts := startServer(t, newTestBackend(3), func(c *Config) { c.MaxConnections = 2 })
	a := connect(t, ts.url, userKey(1), JSON)
	connect(t, ts.url, userKey(2), JSON)
	c := dialRaw(t, ts.url)
	if code, reason := expectClose(t, c, 10*time.Second); code != websocket.StatusTryAgainLater || reason != CloseMaxConnections {
		t.Fatalf("close %d %q", code, reason)
	}
	stillServes(t, a)
}

// TestThousandConcurrentConnections: no user cap. 1,000 clients connect at once, all complete the
// handshake, all are served, and an input from one of them is still accepted.
func TestThousandConcurrentConnections(t *testing.T) {
	const n = 1000
	b := newTestBackend(3)
	ts := startServer(t, b, func(c *Config) {
		c.HandshakeTimeout = time.Minute
		c.PingInterval = -1 // the crowd's clients read only at the end
	})
	clients := make([]*testClient, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 200) // the dialer side's concurrency, not the server's
	hc := resumingClient()
	startAt := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tc, err := handshakeOn(t, dialWith(t, ts.url, hc), userKey(1000+i), Protocol(1+i%2), false)
			clients[i] = tc
			errs <- err
		}()
	}
	wg.Wait()
	t.Logf("connected in %v", time.Since(startAt))
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := ts.Users(); got != n {
		t.Fatalf("%d users, want %d", got, n)
	}
	tc := clients[n-1]
	msg, h := tc.inputMsg("from the crowd", 1, 5)
	tc.sendMsg(msg)
	waitPending(t, b, 1)
	b.closeLedger()
	if m := tc.recvType("contract_input_status"); m["status"] != "accepted" || m["input_hash"] != h.String() {
		t.Fatalf("status %v", m)
	}
}

func TestSlowClientIsClosedWithoutBlockingOthers(t *testing.T) {
	b := newTestBackend(3)
	ts := startServer(t, b, func(c *Config) { c.SendQueue = 8 })
	slow := connect(t, ts.url, userKey(1), JSON)
	fast := connect(t, ts.url, userKey(2), JSON)
	for _, tc := range []*testClient{slow, fast} {
		tc.sendMsg(bson.D{{Key: "type", Value: "subscription"}, {Key: "channel", Value: "unl_change"}, {Key: "enabled", Value: true}})
	}
	stillServes(t, slow) // the subscription is in effect once a later message is answered
	stillServes(t, fast)
	// Big (~70 KB) events, one at a time, each read by the fast client before the next; the slow
	// client never reads, so its socket buffers and then its queue fill, and only it is dropped.
	unl := make([]ed25519.PublicKey, 1000)
	for i := range unl {
		unl[i] = userKey(5000 + i).Public().(ed25519.PublicKey)
	}
	deadline := time.Now().Add(60 * time.Second)
	for ts.Users() == 2 {
		if time.Now().After(deadline) {
			t.Fatal("slow client never closed")
		}
		b.emit(&UNLChanged{UNL: unl})
		fast.recvType("unl_change")
	}
	if ts.userSession(userKey(2).Public().(ed25519.PublicKey)) == nil {
		t.Fatal("the fast client was closed")
	}
	// A client that does not read cannot receive a close frame either: the server drops the
	// connection, and the client sees its backlog end without one.
	if code, reason := expectClose(t, slow.c, 30*time.Second); code != -1 {
		t.Fatalf("close %d %q, want a dropped connection", code, reason)
	}
	stillServes(t, fast)
}

func TestShutdownClosesSessionsWithReason(t *testing.T) {
	b := newTestBackend(3)
	s, err := New(Config{ContractID: "c", ContractVersion: "1", NodeKey: b.unl[0], TLS: selfSignedTLS(t)}, b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	url := "wss://" + ln.Addr().String()
	live := connect(t, url, userKey(1), BSON)
	handshaking := dialRaw(t, url)
	cancel()
	for _, c := range []*websocket.Conn{live.c, handshaking} {
		if code, reason := expectClose(t, c, 20*time.Second); code != websocket.StatusGoingAway || reason != CloseServerShutdown {
			t.Fatalf("close %d %q", code, reason)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return")
	}
	if s.Users() != 0 {
		t.Fatalf("%d users after shutdown", s.Users())
	}
}

func TestMaxConnectionsPerHost(t *testing.T) {
	ts := startServer(t, newTestBackend(3), func(c *Config) { c.MaxConnectionsPerHost = 1 })
	a := connect(t, ts.url, userKey(1), JSON)
	c := dialRaw(t, ts.url)
	if code, reason := expectClose(t, c, 10*time.Second); code != websocket.StatusTryAgainLater || reason != CloseMaxPerHost {
		t.Fatalf("close %d %q", code, reason)
	}
	stillServes(t, a)
	_ = a.c.Close(websocket.StatusNormalClosure, "")
	for i := 0; ts.Users() != 0; i++ {
		if i > 500 {
			t.Fatal("session never ended")
		}
		sleepMs(10)
	}
	// The slot is free again once the session has ended.
	for i := 0; ; i++ {
		if tc, err := tryConnect(t, ts.url, userKey(2), JSON); err == nil {
			stillServes(t, tc)
			break
		}
		if i > 100 {
			t.Fatal("host slot never freed")
		}
		sleepMs(20)
	}
}

func TestIdleSessionIsClosed(t *testing.T) {
	ts := startServer(t, newTestBackend(3), func(c *Config) { c.IdleTimeout = 400 * time.Millisecond })
	idle := connect(t, ts.url, userKey(1), JSON)
	busy := connect(t, ts.url, userKey(2), BSON)
	stop := time.Now().Add(time.Second)
	for time.Now().Before(stop) {
		stillServes(t, busy) // activity keeps a session open past the timeout
		sleepMs(100)
	}
	if code, reason := expectClose(t, idle.c, 10*time.Second); code != websocket.StatusPolicyViolation || reason != CloseIdleTimeout {
		t.Fatalf("close %d %q", code, reason)
	}
	stillServes(t, busy)
}

// TestSilentTCPClientIsDropped: a client that connects and never starts TLS is dropped at the
// handshake deadline, not held forever.
func TestSilentTCPClientIsDropped(t *testing.T) {
	ts := startServer(t, newTestBackend(3), func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "wss://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("server kept a silent TCP connection open: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestMaxBytesPerMinute(t *testing.T) {
	ts := startServer(t, newTestBackend(3), func(c *Config) { c.MaxBytesPerMin = 4096 })
	heavy := connect(t, ts.url, userKey(1), JSON)
	light := connect(t, ts.url, userKey(2), JSON)
	content := strings.Repeat("x", 1000)
	for i := 0; i < 3; i++ { // ~3.1 KB: under the limit, all answered
		heavy.sendMsg(bson.D{{Key: "type", Value: "contract_read_request"}, {Key: "id", Value: "r"}, {Key: "content", Value: content}})
		heavy.recvType("contract_read_response")
	}
	heavy.sendMsg(bson.D{{Key: "type", Value: "contract_read_request"}, {Key: "id", Value: "r"}, {Key: "content", Value: content}})
	if code, reason := expectClose(t, heavy.c, 10*time.Second); code != websocket.StatusPolicyViolation || reason != CloseTooManyBytes {
		t.Fatalf("close %d %q", code, reason)
	}
	stillServes(t, light)
}

// TestUnresponsiveClientIsDroppedByPing: a client that stops answering pings (here: never reads)
// loses its session and frees its key; a client that reads stays.
func TestUnresponsiveClientIsDroppedByPing(t *testing.T) {
	ts := startServer(t, newTestBackend(3), func(c *Config) { c.PingInterval = 200 * time.Millisecond })
	deaf := connect(t, ts.url, userKey(1), JSON)
	alive := connect(t, ts.url, userKey(2), BSON)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := alive.readRaw(time.Minute); err != nil {
				return
			}
		}
	}()
	for i := 0; ts.userSession(deaf.key.Public().(ed25519.PublicKey)) != nil; i++ {
		if i > 1000 {
			t.Fatal("a client that answers no pings kept its session")
		}
		sleepMs(10)
	}
	if ts.userSession(alive.key.Public().(ed25519.PublicKey)) == nil {
		t.Fatal("a client that answers pings was dropped")
	}
	// Its key may connect again at once.
	stillServes(t, connect(t, ts.url, userKey(1), JSON))
	_ = alive.c.Close(websocket.StatusNormalClosure, "")
	<-done
}
