package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// peer is one authenticated connection. Its goroutines (writer, reader,
// request acceptor, pinger) are owned by the node's WaitGroup and end when
// ctx is cancelled, which happens when the connection closes for any reason.
type peer struct {
	n        *Node
	id       PeerID
	conn     *quic.Conn
	ctrl     *quic.Stream
	outbound bool
	// dialedAt and dialerCh come from the dialer's hello, so both ends of
	// the connection know them: they order two connections dialed in the
	// same direction identically on both sides.
	dialedAt uint64
	dialerCh [32]byte
	// msgq feeds the message stream (application kinds: consensus, NPL);
	// ctrlq feeds the control stream (gossip, pings). Separate streams, so
	// a burst of peer records never sits in front of a proposal.
	msgq  chan outMsg
	ctrlq chan outMsg
	lim   *limiter
	lanes laneSet // TLS-over-TCP connections for requests, both directions (lane.go)

	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	cutOnce   sync.Once

	rtt atomic.Int64 // nanoseconds
	// lastRecv is when the last frame arrived (unix nanoseconds of cfg.Now). Pings keep a live
	// connection's lastRecv within PingInterval; a peer that restarted leaves its old
	// connection silent, which is how register recognises it as dead before QUIC's idle timeout.
	lastRecv  atomic.Int64
	pingMu    sync.Mutex
	pingNonce uint64
	pingAt    time.Time
}

type outMsg struct {
	kind  Kind
	frame []byte
}

func (n *Node) newPeer(conn *quic.Conn, ctrl *quic.Stream, id PeerID, outbound bool, dialer hello) *peer {
	ctx, cancel := context.WithCancel(n.ctx)
	p := &peer{
		n: n, id: id, conn: conn, ctrl: ctrl, outbound: outbound,
		dialedAt: dialer.UnixMilli, dialerCh: dialer.Challenge,
		msgq:  make(chan outMsg, n.cfg.SendQueue),
		ctrlq: make(chan outMsg, 64),
		lim:   newLimiter(n.cfg.BytesPerMinute, n.cfg.BadPerMinute, n.cfg.Now()),
		ctx:   ctx, cancel: cancel,
	}
	p.lastRecv.Store(n.cfg.Now().UnixNano())
	return p
}

// runPeer registers p and serves it until its connection ends. It runs on
// a goroutine the node's WaitGroup owns.
func (n *Node) runPeer(p *peer) {
	if err := n.register(p); err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			p.close(codeRefuseBase+quic.ApplicationErrorCode(re.Code), re.Reason)
		} else {
			p.close(codeShutdown, err.Error())
		}
		p.cancel()
		return
	}
	n.log.Info("p2p: peer connected", "peer", p.id, "addr", p.conn.RemoteAddr().String(), "outbound", p.outbound)
	p.ctrl.SetPriority(urgencyGossip, false)
	n.wg.Go(func() { p.writeLoop(p.ctrl, p.ctrlq) })
	n.wg.Go(func() { p.readLoop(p.ctrl, false) })
	n.wg.Go(p.openMsgStream)
	n.wg.Go(p.acceptMsgStream)
	n.wg.Go(p.acceptLoop)
	n.wg.Go(p.pingLoop)
	n.sendRecords(p)
	select {
	case <-p.conn.Context().Done():
	case <-p.ctx.Done():
	}
	p.close(codeShutdown, "peer stopped") // no-op if already closed
	n.unregister(p)
	n.log.Info("p2p: peer disconnected", "peer", p.id, "cause", context.Cause(p.conn.Context()))
}

// close closes the connection once with a code and reason the peer sees.
func (p *peer) close(code quic.ApplicationErrorCode, reason string) {
	p.closeOnce.Do(func() {
		p.conn.CloseWithError(code, truncate(reason))
		p.cancel()
		p.lanes.close()
	})
}

// enqueue hands a frame to the writer of its stream without blocking.
func (p *peer) enqueue(k Kind, frame []byte) error {
	q := p.ctrlq
	if k >= KindNPL {
		q = p.msgq
	}
	select {
	case q <- outMsg{kind: k, frame: frame}:
		return nil
	case <-p.ctx.Done():
		return fmt.Errorf("send to %s: %w", p.id, ErrNotConnected)
	default:
		p.n.met.Dropped(p.id, k, "queue-full")
		return fmt.Errorf("send to %s: %w", p.id, ErrQueueFull)
	}
}

// openMsgStream opens this side's unidirectional message stream, marks it
// with a header frame, and runs its writer.
func (p *peer) openMsgStream() {
	ctx, cancel := context.WithTimeout(p.ctx, p.n.cfg.HandshakeTimeout)
	str, err := p.conn.OpenUniStreamSync(ctx)
	cancel()
	if err != nil {
		p.close(codeProtocol, "cannot open message stream")
		return
	}
	str.SetPriority(urgencyMessages, false)
	if _, err := str.Write(appendFrame(nil, newBody(kindMsgStream, 0).b)); err != nil {
		p.close(codeProtocol, "message stream write failed")
		return
	}
	p.writeLoop(str, p.msgq)
}

// acceptMsgStream accepts the peer's message stream (QUIC allows it
// exactly one unidirectional stream) and reads it.
func (p *peer) acceptMsgStream() {
	str, err := p.conn.AcceptUniStream(p.ctx)
	if err != nil {
		return
	}
	str.SetReadDeadline(time.Now().Add(p.n.cfg.HandshakeTimeout))
	body, err := readFrame(str, 16)
	if err == nil {
		var k Kind
		var d *decoder
		if k, d, err = splitBody(body); err == nil && (k != kindMsgStream || d.finish() != nil) {
			err = fmt.Errorf("%w: message stream header of kind %d", ErrMalformed, k)
		}
	}
	if err != nil {
		p.bad(kindMsgStream, err)
		p.close(codeProtocol, "bad message stream header")
		return
	}
	str.SetReadDeadline(time.Time{})
	p.readLoop(str, true)
}

// writeLoop is the only writer of str after the handshake. It coalesces
// whatever is queued into one Write.
func (p *peer) writeLoop(str interface{ Write([]byte) (int, error) }, q chan outMsg) {
	var buf []byte
	for {
		var m outMsg
		select {
		case <-p.ctx.Done():
			return
		case m = <-q:
		}
		buf = append(buf[:0], m.frame...)
		p.n.met.MessageOut(p.id, m.kind, len(m.frame))
	drain:
		for len(buf) < 256<<10 {
			select {
			case m = <-q:
				buf = append(buf, m.frame...)
				p.n.met.MessageOut(p.id, m.kind, len(m.frame))
			default:
				break drain
			}
		}
		if _, err := str.Write(buf); err != nil {
			p.close(codeProtocol, "stream write failed")
			return
		}
	}
}

// readLoop reads frames from one of the peer's streams until it ends.
// Application kinds are valid only on the message stream, mesh kinds only
// on the control stream.
func (p *peer) readLoop(str io.Reader, msgStream bool) {
	max := maxControlFrame
	if msgStream {
		max = p.n.cfg.MaxMessageSize + frameOverhead
	}
	for {
		body, err := readFrame(str, max)
		if err != nil {
			if errors.Is(err, ErrFrameTooLarge) {
				p.bad(0, err)
				p.close(codeProtocol, err.Error())
			} else {
				p.close(codeProtocol, "stream ended")
			}
			return
		}
		now := p.n.cfg.Now()
		p.lastRecv.Store(now.UnixNano())
		if !p.lim.allowBytes(len(body)+4, now) {
			p.cutOff(fmt.Sprintf("more than %d bytes/min", p.n.cfg.BytesPerMinute))
			return
		}
		p.handle(body, msgStream)
		if p.ctx.Err() != nil {
			return
		}
	}
}

// handle dispatches one frame body. Nothing here may block for long: it
// runs on the peer's only reader.
func (p *peer) handle(body []byte, msgStream bool) {
	k, d, err := splitBody(body)
	if err != nil {
		p.bad(0, err)
		return
	}
	p.n.met.MessageIn(p.id, k, len(body)+4)
	if msgStream != (k >= KindNPL) {
		p.bad(k, fmt.Errorf("%w: kind %d on the wrong stream", ErrMalformed, k))
		return
	}
	switch k {
	case kindPeers:
		m, err := decodePeers(d)
		if err != nil {
			p.bad(k, err)
			return
		}
		p.n.onRecords(p, m.Records)
	case kindPing:
		m, err := decodePing(d)
		if err != nil {
			p.bad(k, err)
			return
		}
		p.enqueue(kindPong, appendFrame(nil, m.encode(kindPong)))
	case kindPong:
		m, err := decodePing(d)
		if err != nil {
			p.bad(k, err)
			return
		}
		p.onPong(m.Nonce)
	case kindRefuse:
		r, err := decodeRefuse(d)
		if err != nil {
			p.bad(k, err)
			return
		}
		p.n.log.Info("p2p: peer closing", "peer", p.id, "code", r.Code, "reason", r.Reason)
		p.close(codeShutdown, "peer refused")
	default:
		if k < KindNPL {
			p.bad(k, fmt.Errorf("%w: kind %d not valid after handshake", ErrMalformed, k))
			return
		}
		m, err := decodeApp(k, d, p.n.cfg.MaxMessageSize)
		if err != nil {
			p.bad(k, err)
			return
		}
		p.deliver(m)
	}
}

// deliver applies the kind's verifier and the UNL filter, then the handler.
// Verification comes first so a malformed payload counts as bad even for a
// kind nobody handles yet.
func (p *peer) deliver(m appMsg) {
	p.n.hmu.RLock()
	h := p.n.handlers[m.Kind]
	v := p.n.verifiers[m.Kind]
	p.n.hmu.RUnlock()
	if v != nil {
		signer, err := v(m.Payload)
		if err != nil {
			p.bad(m.Kind, fmt.Errorf("verifier: %w", err))
			return
		}
		id, err := PeerIDFromKey(signer)
		if err != nil {
			p.bad(m.Kind, fmt.Errorf("verifier: %w", err))
			return
		}
		if !p.n.unl.has(id) {
			p.n.met.Dropped(p.id, m.Kind, "non-unl")
			p.bad(m.Kind, fmt.Errorf("signer %s not in UNL", id))
			return
		}
	}
	if h == nil {
		p.n.met.Dropped(p.id, m.Kind, "no-handler")
		return
	}
	h(p.id, m.Kind, m.Payload)
}

// bad counts a bad message against the peer and cuts it off past the rate.
func (p *peer) bad(k Kind, err error) {
	p.n.met.Dropped(p.id, k, "bad")
	p.n.log.Debug("p2p: bad message", "peer", p.id, "kind", k, "err", err)
	if !p.lim.allowBad(p.n.cfg.Now()) {
		p.cutOff(fmt.Sprintf("more than %d bad messages/min (last: %v)", p.n.cfg.BadPerMinute, err))
	}
}

// cutOff bans the peer for CutOff and closes its connection, logging once.
func (p *peer) cutOff(reason string) {
	p.cutOnce.Do(func() {
		p.n.log.Warn("p2p: peer cut off", "peer", p.id, "addr", p.conn.RemoteAddr().String(), "reason", reason, "for", p.n.cfg.CutOff)
		p.n.ban(p.id)
		p.close(codeRefuseBase+quic.ApplicationErrorCode(RefuseCutOff), reason)
	})
}

// pingLoop measures round-trip time on the control stream.
func (p *peer) pingLoop() {
	t := time.NewTicker(p.n.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		nonce := rand.Uint64()
		p.pingMu.Lock()
		p.pingNonce, p.pingAt = nonce, time.Now()
		p.pingMu.Unlock()
		m := ping{Nonce: nonce}
		p.enqueue(kindPing, appendFrame(nil, m.encode(kindPing)))
	}
}

func (p *peer) onPong(nonce uint64) {
	p.pingMu.Lock()
	ok := nonce == p.pingNonce && !p.pingAt.IsZero()
	d := time.Since(p.pingAt)
	p.pingAt = time.Time{}
	p.pingMu.Unlock()
	if ok {
		p.rtt.Store(int64(d))
		p.n.met.RTT(p.id, d)
	}
}

// acceptLoop serves request streams the peer opens.
func (p *peer) acceptLoop() {
	for {
		str, err := p.conn.AcceptStream(p.ctx)
		if err != nil {
			return
		}
		p.n.wg.Go(func() { p.serveRequest(str) })
	}
}
