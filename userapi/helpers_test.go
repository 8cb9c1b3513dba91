package userapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/zeebo/blake3"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// selfSignedTLS is a fresh self-signed certificate, as `hpnode new` makes one.
func selfSignedTLS(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hpnode test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

type testServer struct {
	*Server
	b   *testBackend
	url string
}

// startServer serves b on a loopback port until the test ends, and checks that Serve returns.
func startServer(t testing.TB, b *testBackend, mod func(*Config)) *testServer {
	t.Helper()
	cfg := Config{
		ContractID:      "3c349abe-4d70-4f50-9fa6-018f1f2530ab",
		ContractVersion: "1.0",
		NodeKey:         b.unl[0],
		TLS:             selfSignedTLS(t),
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
	})
	return &testServer{Server: s, b: b, url: "wss://" + ln.Addr().String()}
}

// testClient speaks the user protocol like hotpocket-js-client, for the Go-level tests.
type testClient struct {
	t     testing.TB
	c     *websocket.Conn
	key   ed25519.PrivateKey
	proto Protocol
	unl   []string // from server_challenge_response
	node  string
}

func userKey(i int) ed25519.PrivateKey {
	seed := [32]byte{byte(i), byte(i >> 8), 0xAA}
	return ed25519.NewKeyFromSeed(seed[:])
}

func dialRaw(t testing.TB, url string) *websocket.Conn {
	return dialWith(t, url, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}})
}

// resumingClient shares TLS sessions across dials, so a crowd of test clients pays for one
// certificate check, not one each.
func resumingClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true,
		ClientSessionCache: tls.NewLRUClientSessionCache(16),
		CurvePreferences:   []tls.CurveID{tls.X25519}, // skip the hybrid ML-KEM share: cheaper handshakes
	}}}
}

func dialWith(t testing.TB, url string, hc *http.Client) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// connect dials and completes the handshake.
func connect(t testing.TB, url string, key ed25519.PrivateKey, proto Protocol) *testClient {
	t.Helper()
	tc, err := tryConnect(t, url, key, proto)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func tryConnect(t testing.TB, url string, key ed25519.PrivateKey, proto Protocol) (*testClient, error) {
	return handshakeOn(t, dialRaw(t, url), key, proto, true)
}

// handshakeOn runs the client side of the handshake; verifyServer=false skips checking the
// server's signature (a crowd test's client-side cost, checked by every other test).
func handshakeOn(t testing.TB, c *websocket.Conn, key ed25519.PrivateKey, proto Protocol, verifyServer bool) (*testClient, error) {
	tc := &testClient{t: t, c: c, key: key, proto: proto}
	ch, err := tc.readJSON()
	if err != nil {
		return nil, err
	}
	if ch["type"] != "user_challenge" {
		return nil, fmt.Errorf("first message %v", ch)
	}
	challenge := ch["challenge"].(string)
	sig := ed25519.Sign(key, []byte(challenge))
	serverChallenge := "0123456789abcdef0123456789abcdef"
	resp, _ := json.Marshal(map[string]any{
		"type":             "user_challenge_response",
		"sig":              hex.EncodeToString(sig),
		"pubkey":           HexKey(key.Public().(ed25519.PublicKey)),
		"server_challenge": serverChallenge,
		"protocol":         proto.String(),
	})
	if err := tc.write(resp); err != nil {
		return nil, err
	}
	sr, err := tc.readJSON()
	if err != nil {
		return nil, err
	}
	if sr["type"] != "server_challenge_response" {
		return nil, fmt.Errorf("second message %v", sr)
	}
	pk, err := ParseHexKey(sr["pubkey"].(string))
	if err != nil {
		return nil, err
	}
	ssig, _ := hex.DecodeString(sr["sig"].(string))
	msg := serverChallenge + ch["contract_id"].(string) + ch["contract_version"].(string)
	if verifyServer && !ed25519.Verify(pk, []byte(msg), ssig) {
		return nil, fmt.Errorf("server challenge signature does not verify")
	}
	tc.node = sr["pubkey"].(string)
	for _, k := range sr["unl"].([]any) {
		tc.unl = append(tc.unl, k.(string))
	}
	return tc, nil
}

func (tc *testClient) write(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return tc.c.Write(ctx, websocket.MessageBinary, b)
}

func (tc *testClient) readRaw(timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, b, err := tc.c.Read(ctx)
	return b, err
}

func (tc *testClient) readJSON() (map[string]any, error) {
	b, err := tc.readRaw(30 * time.Second)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("server sent invalid JSON %q: %w", b, err)
	}
	return m, nil
}

// sendMsg encodes m (a bson.D, whose keys and values tests choose) in the client's protocol.
func (tc *testClient) sendMsg(m bson.D) {
	tc.t.Helper()
	var b []byte
	var err error
	if tc.proto == BSON {
		b, err = bson.Marshal(m)
	} else {
		b, err = json.Marshal(jsonOf(m))
	}
	if err != nil {
		tc.t.Fatal(err)
	}
	if err := tc.write(b); err != nil {
		tc.t.Fatal(err)
	}
}

// jsonOf turns a bson.D into the ordered JSON the js client would send ([]byte as hex).
func jsonOf(v any) any {
	switch x := v.(type) {
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = jsonOf(e.Value)
		}
		return m
	case bson.A:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonOf(e)
		}
		return out
	case []byte:
		return hex.EncodeToString(x)
	}
	return v
}

// recv reads the next message in the client's protocol as a generic map; byte strings come
// back as []byte in both protocols when their key is listed in binKeys.
func (tc *testClient) recv() map[string]any {
	tc.t.Helper()
	m, err := tc.tryRecv(30 * time.Second)
	if err != nil {
		tc.t.Fatal(err)
	}
	return m
}

func (tc *testClient) tryRecv(timeout time.Duration) (map[string]any, error) {
	b, err := tc.readRaw(timeout)
	if err != nil {
		return nil, err
	}
	if tc.proto == BSON {
		var d bson.M
		if err := bson.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("server sent invalid BSON: %w", err)
		}
		return normBSON(d).(map[string]any), nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("server sent invalid JSON %q: %w", b, err)
	}
	return m, nil
}

// normBSON maps BSON values onto JSON's shapes: binary → lowercase hex string, int64 → float64,
// so one set of assertions serves both protocols.
func normBSON(v any) any {
	switch x := v.(type) {
	case bson.M:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normBSON(e)
		}
		return m
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = normBSON(e.Value)
		}
		return m
	case bson.A:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normBSON(e)
		}
		return out
	case bson.Binary:
		return hex.EncodeToString(x.Data)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	}
	return v
}

// recvType reads until a message of type typ arrives (skipping others, e.g. ledger events).
func (tc *testClient) recvType(typ string) map[string]any {
	tc.t.Helper()
	for {
		m := tc.recv()
		if m["type"] == typ {
			return m
		}
	}
}

// inputMsg builds a signed contract_input like the js client does.
func (tc *testClient) inputMsg(input string, nonce, maxLedger uint64) (bson.D, Hash) {
	var container []byte
	if tc.proto == BSON {
		container, _ = bson.Marshal(bson.D{
			{Key: "input", Value: []byte(input)},
			{Key: "nonce", Value: int64(nonce)},
			{Key: "max_ledger_seq_no", Value: int64(maxLedger)},
		})
	} else {
		container = fmt.Appendf(nil, `{"input":%q,"nonce":%d,"max_ledger_seq_no":%d}`, input, nonce, maxLedger)
	}
	sig := ed25519.Sign(tc.key, container)
	var msg bson.D
	if tc.proto == BSON {
		msg = bson.D{{Key: "type", Value: "contract_input"}, {Key: "input_container", Value: container}, {Key: "sig", Value: sig}}
	} else {
		msg = bson.D{{Key: "type", Value: "contract_input"}, {Key: "input_container", Value: string(container)}, {Key: "sig", Value: sig}}
	}
	return msg, Hash(blake3.Sum256(sig))
}

// expectClose reads until the connection ends and returns its close status and reason.
func expectClose(t testing.TB, c *websocket.Conn, timeout time.Duration) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("connection still open after %v", timeout)
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, err.Error()
		}
	}
}

func sleepMs(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
