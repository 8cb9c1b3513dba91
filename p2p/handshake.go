package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/quic-go/quic-go"
)

// RefusedError is returned when a peer refuses a connection, and says why.
type RefusedError struct {
	Code   RefuseCode
	Reason string
	Local  bool // this node refused the peer, rather than the reverse
}

func (e *RefusedError) Error() string {
	who := "peer refused"
	if e.Local {
		who = "refused peer"
	}
	return fmt.Sprintf("p2p: %s: %s: %s", who, e.Code, e.Reason)
}

// ErrHandshake is wrapped by every handshake failure that is not a refusal.
var ErrHandshake = errors.New("p2p: handshake failed")

// exporterLabel derives keying material that binds the mesh handshake to
// the TLS session it runs in.
const exporterLabel = "EXPORTER-hpnode-p2p-handshake"

func exporter(conn *quic.Conn) ([]byte, error) {
	cs := conn.ConnectionState().TLS
	return cs.ExportKeyingMaterial(exporterLabel, nil, 32)
}

// asRefusal turns a peer's CONNECTION_CLOSE carrying a refusal code into a
// RefusedError: the listener closes right after writing its refusal, so the
// close may arrive before the frame.
func asRefusal(err error) error {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode > codeRefuseBase && ae.ErrorCode <= codeRefuseBase+0xff {
		return &RefusedError{Code: RefuseCode(ae.ErrorCode - codeRefuseBase), Reason: ae.ErrorMessage}
	}
	return err
}

func (n *Node) newHello() (hello, error) {
	h := hello{ContractID: n.cfg.ContractID, Key: n.id, UnixMilli: uint64(n.cfg.Now().UnixMilli())}
	if _, err := rand.Read(h.Challenge[:]); err != nil {
		return h, fmt.Errorf("challenge: %w", err)
	}
	return h, nil
}

func (n *Node) sign(msg []byte) auth {
	var a auth
	copy(a.Sig[:], ed25519.Sign(n.cfg.Key, msg))
	return a
}

// dial connects to t and runs the dialer's half of the handshake.
func (n *Node) dial(ctx context.Context, t dialTarget) (*peer, error) {
	ua, err := net.ResolveUDPAddr("udp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", t.addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.HandshakeTimeout)
	defer cancel()
	conn, err := n.tr.Dial(ctx, ua, n.tlsClient, n.qconf)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", t.addr, err)
	}
	p, err := n.handshakeDialer(ctx, conn)
	if err != nil {
		var re *RefusedError
		if !errors.As(err, &re) {
			conn.CloseWithError(codeProtocol, truncate(err.Error()))
		}
		return nil, fmt.Errorf("dial %s: %w", t.addr, err)
	}
	if t.hasKey && p.id != t.key {
		n.log.Info("p2p: address now serves another key", "addr", t.addr, "want", t.key, "got", p.id)
	}
	return p, nil
}

func (n *Node) handshakeDialer(ctx context.Context, conn *quic.Conn) (*peer, error) {
	key, err := certKey(conn.ConnectionState().TLS)
	if err != nil {
		return nil, err
	}
	if key == n.id {
		return nil, n.refuse(conn, nil, RefuseSelf, "dialed own address")
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: open control stream: %w", ErrHandshake, asRefusal(err))
	}
	str.SetPriority(urgencyControl, false)
	if dl, ok := ctx.Deadline(); ok {
		str.SetDeadline(dl)
	}
	mine, err := n.newHello()
	if err != nil {
		return nil, err
	}
	if _, err := str.Write(appendFrame(nil, mine.encode())); err != nil {
		return nil, fmt.Errorf("%w: write hello: %w", ErrHandshake, asRefusal(err))
	}
	theirs, err := n.readHello(str, conn, key)
	if err != nil {
		return nil, err
	}
	exp, err := exporter(conn)
	if err != nil {
		return nil, fmt.Errorf("%w: exporter: %w", ErrHandshake, err)
	}
	if err := n.readAuth(str, conn, handshakeMessage(n.cfg.ContractID, roleListener, mine.Challenge, theirs.Challenge, key, n.id, exp), key); err != nil {
		return nil, err
	}
	a := n.sign(handshakeMessage(n.cfg.ContractID, roleDialer, mine.Challenge, theirs.Challenge, n.id, key, exp))
	if _, err := str.Write(appendFrame(nil, a.encode())); err != nil {
		return nil, fmt.Errorf("%w: write auth: %w", ErrHandshake, asRefusal(err))
	}
	str.SetDeadline(time.Time{})
	return n.newPeer(conn, str, key, true, mine), nil
}

// serveInbound runs the listener's half of the handshake on an accepted
// connection, then the peer.
func (n *Node) serveInbound(conn *quic.Conn) {
	host := hostOf(conn.RemoteAddr())
	n.mu.Lock()
	over := n.inbound[host] >= n.cfg.MaxConnsPerHost
	if !over {
		n.inbound[host]++
	}
	n.mu.Unlock()
	if over {
		n.log.Info("p2p: inbound refused", "addr", conn.RemoteAddr().String(), "reason", "per-host limit")
		n.refuse(conn, nil, RefuseCapacity, "per-host connection limit")
		return
	}
	defer func() {
		n.mu.Lock()
		if n.inbound[host]--; n.inbound[host] <= 0 {
			delete(n.inbound, host)
		}
		n.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.HandshakeTimeout)
	p, err := n.handshakeListener(ctx, conn)
	cancel()
	if err != nil {
		n.log.Info("p2p: inbound handshake failed", "addr", conn.RemoteAddr().String(), "err", err)
		var re *RefusedError
		if !errors.As(err, &re) {
			conn.CloseWithError(codeProtocol, truncate(err.Error()))
		}
		if !errors.As(err, &re) || re.Code == RefuseBadHandshake || re.Code == RefuseContractMismatch {
			n.hostFailed(host)
		}
		return
	}
	n.runPeer(p)
}

// errHostCutOff refuses a connection attempt from a cut-off host.
var errHostCutOff = errors.New("p2p: host cut off")

// maxHostBuckets bounds the per-host failure table; past it the table is
// reset, which at worst forgives some failures.
const maxHostBuckets = 4096

// hostFailed charges a failed inbound handshake to its source IP. Before a
// handshake completes there is no key to blame, so a host that fails more
// than BadPerMinute handshakes is cut off as a whole for CutOff.
func (n *Node) hostFailed(host string) {
	now := n.cfg.Now()
	n.mu.Lock()
	b := n.hostBad[host]
	if b == nil {
		if len(n.hostBad) >= maxHostBuckets {
			clear(n.hostBad)
		}
		nb := newBucket(int64(n.cfg.BadPerMinute), now)
		b = &nb
		n.hostBad[host] = b
	}
	over := !b.take(1, now)
	if over {
		delete(n.hostBad, host)
		n.hostBan[host] = now.Add(n.cfg.CutOff)
	}
	n.mu.Unlock()
	if over {
		n.log.Warn("p2p: host cut off", "host", host, "reason", fmt.Sprintf("more than %d failed handshakes/min", n.cfg.BadPerMinute), "for", n.cfg.CutOff)
	}
}

func (n *Node) hostBanned(host string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	until, ok := n.hostBan[host]
	if !ok {
		return false
	}
	if n.cfg.Now().After(until) {
		delete(n.hostBan, host)
		return false
	}
	return true
}

func (n *Node) handshakeListener(ctx context.Context, conn *quic.Conn) (*peer, error) {
	key, err := certKey(conn.ConnectionState().TLS)
	if err != nil {
		return nil, err
	}
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: accept control stream: %w", ErrHandshake, err)
	}
	str.SetPriority(urgencyControl, false)
	if dl, ok := ctx.Deadline(); ok {
		str.SetDeadline(dl)
	}
	theirs, err := n.readHello(str, conn, key)
	if err != nil {
		return nil, err
	}
	if key == n.id {
		return nil, n.refuse(conn, str, RefuseSelf, "connection from own key")
	}
	if n.isBanned(key) {
		return nil, n.refuse(conn, str, RefuseCutOff, "peer is cut off")
	}
	n.mu.Lock()
	full := n.peers[key] == nil && len(n.peers) >= n.cfg.MaxConnections
	n.mu.Unlock()
	if full {
		return nil, n.refuse(conn, str, RefuseCapacity, "max connections reached")
	}
	mine, err := n.newHello()
	if err != nil {
		return nil, err
	}
	exp, err := exporter(conn)
	if err != nil {
		return nil, fmt.Errorf("%w: exporter: %w", ErrHandshake, err)
	}
	a := n.sign(handshakeMessage(n.cfg.ContractID, roleListener, theirs.Challenge, mine.Challenge, n.id, key, exp))
	out := appendFrame(nil, mine.encode())
	out = appendFrame(out, a.encode())
	if _, err := str.Write(out); err != nil {
		return nil, fmt.Errorf("%w: write hello: %w", ErrHandshake, err)
	}
	if err := n.readAuth(str, conn, handshakeMessage(n.cfg.ContractID, roleDialer, theirs.Challenge, mine.Challenge, key, n.id, exp), key); err != nil {
		return nil, err
	}
	str.SetDeadline(time.Time{})
	return n.newPeer(conn, str, key, false, theirs), nil
}

// readHello reads the peer's hello (or its refusal) and checks the contract
// id and that the key it claims is the one its certificate proved.
func (n *Node) readHello(str *quic.Stream, conn *quic.Conn, certID PeerID) (hello, error) {
	body, err := readFrame(str, maxControlFrame)
	if err != nil {
		return hello{}, fmt.Errorf("%w: read hello: %w", ErrHandshake, asRefusal(err))
	}
	k, d, err := splitBody(body)
	if err != nil {
		return hello{}, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	switch k {
	case kindRefuse:
		r, err := decodeRefuse(d)
		if err != nil {
			return hello{}, fmt.Errorf("%w: %w", ErrHandshake, err)
		}
		return hello{}, &RefusedError{Code: r.Code, Reason: r.Reason}
	case kindHello:
	default:
		return hello{}, fmt.Errorf("%w: got kind %d, want hello", ErrHandshake, k)
	}
	h, err := decodeHello(d)
	if err != nil {
		return hello{}, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if h.ContractID != n.cfg.ContractID {
		return hello{}, n.refuse(conn, str, RefuseContractMismatch,
			fmt.Sprintf("peer serves contract %q, this node %q", h.ContractID, n.cfg.ContractID))
	}
	if h.Key != certID {
		return hello{}, n.refuse(conn, str, RefuseBadHandshake, "hello key differs from certificate key")
	}
	return h, nil
}

// readAuth reads the peer's proof and checks it over msg.
func (n *Node) readAuth(str *quic.Stream, conn *quic.Conn, msg []byte, key PeerID) error {
	body, err := readFrame(str, maxControlFrame)
	if err != nil {
		return fmt.Errorf("%w: read auth: %w", ErrHandshake, asRefusal(err))
	}
	k, d, err := splitBody(body)
	if err == nil && k != kindAuth {
		err = fmt.Errorf("got kind %d, want auth", k)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	a, err := decodeAuth(d)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if !verify(key, msg, a.Sig[:]) {
		return n.refuse(conn, str, RefuseBadHandshake, "handshake signature does not verify")
	}
	return nil
}

// refuse tells the peer why, closes the connection and returns the
// refusal as an error for the local caller.
func (n *Node) refuse(conn *quic.Conn, str *quic.Stream, code RefuseCode, reason string) error {
	reason = truncate(reason)
	if str != nil {
		r := refuse{Code: code, Reason: reason}
		str.Write(appendFrame(nil, r.encode()))
	}
	conn.CloseWithError(codeRefuseBase+quic.ApplicationErrorCode(code), reason)
	return &RefusedError{Code: code, Reason: reason, Local: true}
}

func truncate(s string) string {
	if len(s) > maxReasonLen {
		return s[:maxReasonLen]
	}
	return s
}

func hostOf(a net.Addr) string {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
