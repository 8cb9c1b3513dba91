package p2p

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Handler receives an application message. It runs on the sending peer's
// reader goroutine, so it must not block: hand the payload to a channel or
// a state machine and return. The payload is owned by the handler.
type Handler func(from PeerID, kind Kind, payload []byte)

// Scope selects the peers a broadcast goes to.
type Scope uint8

// Broadcast scopes.
const (
	ToAll Scope = iota // every connected peer
	ToUNL              // connected peers whose key is in the current UNL
)

// Errors callers branch on.
var (
	ErrNotConnected = errors.New("p2p: peer not connected")
	ErrQueueFull    = errors.New("p2p: peer send queue full")
	ErrTooLarge     = errors.New("p2p: message exceeds size bound")
	ErrClosed       = errors.New("p2p: node closed")
)

// QUIC application error codes used when closing connections and streams.
const (
	codeShutdown   quic.ApplicationErrorCode = 1
	codeProtocol   quic.ApplicationErrorCode = 2
	codeRefuseBase quic.ApplicationErrorCode = 0x100 // + RefuseCode
	codeCancelled  quic.StreamErrorCode      = 1
	codeStreamBad  quic.StreamErrorCode      = 2
)

// Stream urgencies (RFC 9218: lower is sent first): the message streams
// (consensus, NPL) before the control stream (handshake, then gossip and
// pings), both before request streams (sync).
const (
	urgencyMessages int8 = 0
	urgencyControl  int8 = 0
	urgencyGossip   int8 = 1
	urgencyBulk     int8 = 5
)

// Node is one member of the mesh. Create it with New, register handlers and
// verifiers, call Start, and Close it when done.
type Node struct {
	cfg  Config
	id   PeerID
	log  *slog.Logger
	met  Metrics
	unl  unl
	book *book

	hmu         sync.RWMutex
	handlers    map[Kind]Handler
	verifiers   map[Kind]Verifier
	reqHandlers map[Kind]ReleasingHandler

	mu        sync.Mutex
	peers     map[PeerID]*peer
	banned    map[PeerID]time.Time
	inbound   map[string]int // inbound connections (incl. handshaking) per remote IP
	hostBad   map[string]*bucket
	hostBan   map[string]time.Time
	closed    bool
	selfRec   PeerRecord
	advertise string

	pc        net.PacketConn
	tr        *quic.Transport
	ln        *quic.Listener
	tlsServer *tls.Config
	tlsClient *tls.Config
	qconf     *quic.Config

	// Lanes (lane.go): laneClient is nil when this node dials none; laneLn is nil when it
	// accepts none.
	laneServer *tls.Config
	laneClient *tls.Config
	laneLn     net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates cfg and returns a node that is not yet listening.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	id, err := PeerIDFromKey(cfg.Key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	srv, cli, err := tlsConfigs(cfg.Key)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, id: id, log: cfg.Logger.With("node", id.String()), met: cfg.Metrics,
		book:     newBook(id, cfg.Bootstrap, cfg.BackoffMin, cfg.BackoffMax),
		handlers: map[Kind]Handler{}, verifiers: map[Kind]Verifier{}, reqHandlers: map[Kind]ReleasingHandler{},
		peers: map[PeerID]*peer{}, banned: map[PeerID]time.Time{}, inbound: map[string]int{},
		hostBad: map[string]*bucket{}, hostBan: map[string]time.Time{},
		tlsServer: srv, tlsClient: cli,
		qconf: &quic.Config{
			HandshakeIdleTimeout: cfg.HandshakeTimeout,
			MaxIdleTimeout:       cfg.IdleTimeout,
			KeepAlivePeriod:      cfg.IdleTimeout / 3,
			// One control stream plus the requests a peer may have in
			// flight; QUIC's stream credit is the server's concurrency bound.
			MaxIncomingStreams: 65,
			// Each side's message stream.
			MaxIncomingUniStreams: 1,
		},
	}
	n.verifiers[KindNPL] = nplVerifier(cfg.ContractID)
	// A cut-off host is refused before TLS, so it cannot make us pay for
	// handshakes it will fail again.
	n.qconf.GetConfigForClient = func(info *quic.ClientInfo) (*quic.Config, error) {
		if n.hostBanned(hostOf(info.RemoteAddr)) {
			return nil, errHostCutOff
		}
		return n.qconf, nil
	}
	return n, nil
}

// ID returns the node's key.
func (n *Node) ID() PeerID { return n.id }

// Handle registers h for kind, replacing any earlier handler. Only kinds at
// or above KindNPL are application kinds; a handler for a lower kind is
// never called.
func (n *Node) Handle(kind Kind, h Handler) {
	n.hmu.Lock()
	n.handlers[kind] = h
	n.hmu.Unlock()
}

// SetVerifier registers v for kind: messages of that kind are delivered only
// if v accepts them and names a signer in the current UNL.
func (n *Node) SetVerifier(kind Kind, v Verifier) {
	n.hmu.Lock()
	n.verifiers[kind] = v
	n.hmu.Unlock()
}

// SetUNL replaces the UNL. It may be called at any time (consensus changes
// the UNL); messages already delivered are not revisited.
func (n *Node) SetUNL(keys []ed25519.PublicKey) { n.unl.set(keys) }

// Start binds the socket and starts accepting, dialing and gossiping. The
// node runs until Close; ctx only bounds Start itself.
func (n *Node) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n.pc != nil {
		return errors.New("p2p: Start called twice")
	}
	pc := n.cfg.PacketConn
	if pc == nil {
		addr, err := net.ResolveUDPAddr("udp", n.cfg.ListenAddr)
		if err != nil {
			return fmt.Errorf("p2p: resolve %s: %w", n.cfg.ListenAddr, err)
		}
		c, err := net.ListenUDP("udp", addr)
		if err != nil {
			return fmt.Errorf("p2p: listen %s: %w", n.cfg.ListenAddr, err)
		}
		pc = c
	}
	n.pc = pc
	n.tr = &quic.Transport{Conn: pc}
	ln, err := n.tr.Listen(n.tlsServer, n.qconf)
	if err != nil {
		pc.Close()
		return fmt.Errorf("p2p: quic listen: %w", err)
	}
	n.ln = ln
	n.advertise = n.cfg.AdvertiseAddr
	if n.advertise == "" {
		if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok && !ua.IP.IsUnspecified() {
			n.advertise = ua.String()
		}
	}
	if n.advertise == "" {
		n.log.Warn("p2p: no advertise address; peers cannot learn where to dial this node", "bound", pc.LocalAddr().String())
	} else if err := n.signSelf(); err != nil {
		n.closeSockets()
		return err
	}
	if n.cfg.DataDir != "" {
		k, err := n.book.load(n.cfg.DataDir, n.cfg.ContractID)
		if err != nil {
			n.closeSockets()
			return err
		}
		n.log.Info("p2p: loaded known peers", "count", k, "dir", n.cfg.DataDir)
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if !n.cfg.DisableLanes && n.cfg.PacketConn == nil {
		n.laneServer, n.laneClient = laneTLS(n.tlsServer, n.tlsClient)
		n.listenLanes()
	}
	n.wg.Go(n.acceptLoop)
	n.wg.Go(n.maintainLoop)
	n.log.Info("p2p: listening", "addr", pc.LocalAddr().String(), "advertise", n.advertise)
	return nil
}

// Addr returns the bound UDP address (nil before Start).
func (n *Node) Addr() net.Addr {
	if n.pc == nil {
		return nil
	}
	return n.pc.LocalAddr()
}

func (n *Node) closeSockets() {
	if n.ln != nil {
		n.ln.Close()
	}
	if n.tr != nil {
		n.tr.Close()
	}
	if n.pc != nil {
		n.pc.Close()
	}
}

// Close closes every connection, stops every goroutine, saves the known
// peers and releases the socket. It is safe to call more than once.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	peers := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		peers = append(peers, p)
	}
	n.mu.Unlock()
	if n.cancel == nil { // never started
		return nil
	}
	n.cancel()
	n.ln.Close()
	if n.laneLn != nil {
		n.laneLn.Close()
	}
	for _, p := range peers {
		p.close(codeShutdown, "shutdown")
	}
	n.wg.Wait()
	var err error
	if n.cfg.DataDir != "" {
		err = n.book.save(n.cfg.DataDir)
	}
	n.tr.Close()
	n.pc.Close()
	return err
}

// PeerInfo describes a connected peer.
type PeerInfo struct {
	ID       PeerID
	Addr     net.Addr
	Outbound bool // this node dialed
	InUNL    bool
	RTT      time.Duration // last application round trip; 0 before the first
	Lanes    int           // open lanes (lane.go), both directions
}

// Peers lists connected (authenticated) peers.
func (n *Node) Peers() []PeerInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]PeerInfo, 0, len(n.peers))
	for id, p := range n.peers {
		out = append(out, PeerInfo{ID: id, Addr: p.conn.RemoteAddr(), Outbound: p.outbound, InUNL: n.unl.has(id), RTT: time.Duration(p.rtt.Load()), Lanes: p.lanes.count()})
	}
	return out
}

// KnownPeers returns every peer record in the address book.
func (n *Node) KnownPeers() []PeerRecord { return n.book.known() }

// Connected reports whether an authenticated connection to id is up.
func (n *Node) Connected(id PeerID) bool { return n.peer(id) != nil }

func (n *Node) peer(id PeerID) *peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peers[id]
}

// Send queues one message to a connected peer. It never blocks: a full
// queue drops the message and returns ErrQueueFull.
func (n *Node) Send(to PeerID, kind Kind, payload []byte) error {
	if len(payload) > n.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, bound %d", ErrTooLarge, len(payload), n.cfg.MaxMessageSize)
	}
	p := n.peer(to)
	if p == nil {
		return fmt.Errorf("send to %s: %w", to, ErrNotConnected)
	}
	return p.enqueue(kind, appendFrame(nil, encodeApp(kind, payload)))
}

// Broadcast queues one message to every connected peer in scope and returns
// how many queues took it.
func (n *Node) Broadcast(kind Kind, payload []byte, scope Scope) (int, error) {
	if len(payload) > n.cfg.MaxMessageSize {
		return 0, fmt.Errorf("%w: %d bytes, bound %d", ErrTooLarge, len(payload), n.cfg.MaxMessageSize)
	}
	frame := appendFrame(nil, encodeApp(kind, payload))
	sent := 0
	for _, p := range n.snapshot() {
		if scope == ToUNL && !n.unl.has(p.id) {
			continue
		}
		if p.enqueue(kind, frame) == nil {
			sent++
		}
	}
	return sent, nil
}

// SendNPL signs data as an NPL message of ledger l with the node's key and
// broadcasts it.
func (n *Node) SendNPL(l LedgerID, data []byte, scope Scope) (int, error) {
	m, err := SignNPL(n.cfg.Key, n.cfg.ContractID, l, data)
	if err != nil {
		return 0, err
	}
	return n.Broadcast(KindNPL, m.Encode(), scope)
}

func (n *Node) snapshot() []*peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, p)
	}
	return out
}

// isBanned reports whether id was cut off and its ban has not yet expired.
func (n *Node) isBanned(id PeerID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.isBannedLocked(id)
}

func (n *Node) isBannedLocked(id PeerID) bool {
	until, ok := n.banned[id]
	if !ok {
		return false
	}
	if n.cfg.Now().After(until) {
		delete(n.banned, id)
		return false
	}
	return true
}

func (n *Node) ban(id PeerID) {
	n.mu.Lock()
	n.banned[id] = n.cfg.Now().Add(n.cfg.CutOff)
	n.mu.Unlock()
}

// register admits an authenticated peer, resolving duplicates (see
// prefer) so that both ends keep the same connection without talking.
func (n *Node) register(p *peer) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	if n.isBannedLocked(p.id) {
		n.mu.Unlock()
		return &RefusedError{Code: RefuseCutOff, Reason: "peer is cut off"}
	}
	old := n.peers[p.id]
	if old == nil && len(n.peers) >= n.cfg.MaxConnections {
		n.mu.Unlock()
		return &RefusedError{Code: RefuseCapacity, Reason: "max connections reached"}
	}
	if old != nil && !n.prefer(p, old) && !n.silent(old) {
		n.mu.Unlock()
		return &RefusedError{Code: RefuseDuplicate, Reason: "a preferred connection exists"}
	}
	n.peers[p.id] = p
	n.mu.Unlock()
	if old != nil {
		old.close(codeRefuseBase+quic.ApplicationErrorCode(RefuseDuplicate), "replaced by a preferred connection")
	}
	return nil
}

// prefer reports whether connection a should replace b (same peer). Both
// ends of a pair compute the same answer from data both hold:
//   - dialed in opposite directions: keep the one dialed by the lower key;
//   - dialed in the same direction (the dialer raced itself, or restarted
//     and the old connection is not yet timed out): keep the later dial by
//     the dialer's hello time, then by its challenge.
func (n *Node) prefer(a, b *peer) bool {
	if a.outbound == b.outbound {
		if a.dialedAt != b.dialedAt {
			return a.dialedAt > b.dialedAt
		}
		return bytes.Compare(a.dialerCh[:], b.dialerCh[:]) > 0
	}
	lowDials := n.id.Less(a.id) // true: this node has the lower key, keep our outbound
	return a.outbound == lowDials
}

// silent reports whether a connection has received nothing for two ping intervals: its peer is
// gone (typically restarted, and now dialing in again) even though QUIC has not timed it out.
// A new connection from the same key then replaces it whatever the tie-break says.
func (n *Node) silent(p *peer) bool {
	quiet := n.cfg.Now().Sub(time.Unix(0, p.lastRecv.Load()))
	return quiet > 2*n.cfg.PingInterval+time.Second
}

func (n *Node) unregister(p *peer) {
	n.mu.Lock()
	if n.peers[p.id] == p {
		delete(n.peers, p.id)
	}
	n.mu.Unlock()
}
