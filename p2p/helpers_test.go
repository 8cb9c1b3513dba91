package p2p

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

const testContract = "c0ffee00-test-contract"

// logBuf collects a node's log lines for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type testNode struct {
	*Node
	key  ed25519.PrivateKey
	logs *logBuf
	met  *CounterMetrics
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fastConfig has timers small enough for tests to converge in seconds.
func fastConfig(key ed25519.PrivateKey) Config {
	return Config{
		Key:              key,
		ContractID:       testContract,
		ListenAddr:       "127.0.0.1:0",
		MaxConnsPerHost:  64,
		IdleTimeout:      5 * time.Second,
		HandshakeTimeout: 3 * time.Second,
		DialInterval:     100 * time.Millisecond,
		BackoffMin:       100 * time.Millisecond,
		BackoffMax:       time.Second,
		PingInterval:     time.Hour,
	}
}

// startNode starts a node with cfg (Key, Logger and Metrics filled in if
// unset) and closes it at cleanup.
func startNode(t testing.TB, cfg Config) *testNode {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = newKey(t)
	}
	tn := &testNode{key: cfg.Key, logs: &logBuf{}, met: NewCounterMetrics()}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tn.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = tn.met
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	t.Cleanup(func() { n.Close() })
	return tn
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func idOf(t testing.TB, k ed25519.PrivateKey) PeerID {
	id, err := PeerIDFromKey(pub(k))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// eventually polls cond every 20ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connectPair starts b bootstrapped to a and waits until both see each other.
func connectPair(t testing.TB, a *testNode, bcfg Config) *testNode {
	t.Helper()
	bcfg.Bootstrap = []string{a.Addr().String()}
	b := startNode(t, bcfg)
	eventually(t, 20*time.Second, "pair connects", func() bool { return a.Connected(b.ID()) && b.Connected(a.ID()) })
	return b
}

// rawPeer speaks the wire protocol by hand, to send what a real node never
// would.
type rawPeer struct {
	t    testing.TB
	key  ed25519.PrivateKey
	id   PeerID
	conn *quic.Conn
	str  *quic.Stream
}

func dialRaw(t testing.TB, addr net.Addr, key ed25519.PrivateKey) *rawPeer {
	t.Helper()
	r, err := dialRawErr(t, addr, key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// dialRawMaybe returns nil if the QUIC handshake is refused.
func dialRawMaybe(t testing.TB, addr net.Addr, key ed25519.PrivateKey) *rawPeer {
	t.Helper()
	r, err := dialRawErr(t, addr, key)
	if err != nil {
		return nil
	}
	return r
}

func dialRawErr(t testing.TB, addr net.Addr, key ed25519.PrivateKey) (*rawPeer, error) {
	t.Helper()
	_, cli, err := tlsConfigs(key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, addr.String(), cli, &quic.Config{MaxIdleTimeout: 5 * time.Second, HandshakeIdleTimeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	str.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawPeer{t: t, key: key, id: idOf(t, key), conn: conn, str: str}, nil
}

func (r *rawPeer) write(b []byte) error {
	_, err := r.str.Write(b)
	return err
}

func (r *rawPeer) writeBody(body []byte) error { return r.write(appendFrame(nil, body)) }

// read returns the next frame's kind and decoder, with a peer's refusal
// (frame or CONNECTION_CLOSE) as a *RefusedError.
func (r *rawPeer) read() (Kind, *decoder, error) {
	body, err := readFrame(r.str, maxControlFrame)
	if err != nil {
		return 0, nil, asRefusal(err)
	}
	k, d, err := splitBody(body)
	if err != nil {
		return 0, nil, err
	}
	if k == kindRefuse {
		rf, err := decodeRefuse(d)
		if err != nil {
			return 0, nil, err
		}
		return k, d, &RefusedError{Code: rf.Code, Reason: rf.Reason}
	}
	return k, d, nil
}

// handshake runs the dialer's half honestly except for what tamper changes
// in our auth; it returns our auth and the listener's hello.
func (r *rawPeer) handshake(contractID string, tamper func(*auth)) (auth, hello, error) {
	mine := hello{ContractID: contractID, Key: r.id, UnixMilli: uint64(time.Now().UnixMilli())}
	rand.Read(mine.Challenge[:])
	if err := r.writeBody(mine.encode()); err != nil {
		return auth{}, hello{}, err
	}
	k, d, err := r.read()
	if err != nil {
		return auth{}, hello{}, err
	}
	if k != kindHello {
		return auth{}, hello{}, fmt.Errorf("got kind %d", k)
	}
	theirs, err := decodeHello(d)
	if err != nil {
		return auth{}, hello{}, err
	}
	if _, _, err := r.read(); err != nil { // their auth
		return auth{}, hello{}, err
	}
	exp, err := exporter(r.conn)
	if err != nil {
		return auth{}, hello{}, err
	}
	var a auth
	copy(a.Sig[:], ed25519.Sign(r.key, handshakeMessage(contractID, roleDialer, mine.Challenge, theirs.Challenge, r.id, theirs.Key, exp)))
	if tamper != nil {
		tamper(&a)
	}
	return a, theirs, r.writeBody(a.encode())
}

// waitClosed waits for the node to close the raw connection and returns
// the close error as a refusal where it is one.
func (r *rawPeer) waitClosed(d time.Duration) error {
	select {
	case <-r.conn.Context().Done():
		return asRefusal(context.Cause(r.conn.Context()))
	case <-time.After(d):
		return errors.New("connection still open")
	}
}

func wantRefusal(t testing.TB, err error, code RefuseCode) *RefusedError {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != code {
		t.Fatalf("want refusal %q, got %v", code, err)
	}
	return re
}

// msgStream opens the raw peer's message stream, header written.
func (r *rawPeer) msgStream() *quic.SendStream {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := r.conn.OpenUniStreamSync(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := s.Write(appendFrame(nil, newBody(kindMsgStream, 0).b)); err != nil {
		r.t.Fatal(err)
	}
	return s
}
