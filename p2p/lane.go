package p2p

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Bulk lanes. quic-go moves bulk bytes in user space one packet of at most 1452 bytes at a
// time, each sealed, sent, received, opened and acknowledged on its own: on this machine one
// QUIC stream costs about 4.3 CPU-s per GiB for both ends, against 1.0 for TLS 1.3 over
// kernel TCP (whose loopback moves 64 KiB segments). State sync moves gigabytes as responses,
// so requests travel on lanes: TLS 1.3 connections over TCP to the host:port of the peer's
// QUIC listener, authenticated by the same node key, each carrying one request at a time in
// the request stream's wire format (a request frame; a response header frame and body).
//
// QUIC keeps everything else: the mesh handshake with its contract-id proof, consensus
// messages, gossip and pings. A lane adds no trust of its own: it is accepted only from a key
// whose QUIC connection is registered (so it passed that handshake), it ends with that
// connection, and its requests are charged to the same limits. A request falls back to a QUIC
// stream when the peer has no lane: its TCP port unreachable (the node then waits
// laneRetryAfter before dialing again), all of its lanes busy, or lanes disabled
// (Config.DisableLanes, or a caller-supplied PacketConn, whose traffic the caller means to
// control).
const (
	// laneALPN tells a lane's TLS handshake from any other protocol on that port.
	laneALPN = "hpnode-lane/1"
	// maxLanes bounds the lanes between an ordered pair of nodes: the requests one node has in
	// flight to one peer on lanes (more wait on QUIC streams), and the lanes a server keeps
	// for one peer (more are closed at once).
	maxLanes = 16
	// maxLaneHandshakes bounds the lane connections in their TLS handshake at once, so
	// connections that never finish one (each held up to HandshakeTimeout) cannot pile up;
	// more are closed at once.
	maxLaneHandshakes = 64
	// laneRetryAfter is how long a node sends a peer's requests over QUIC after a lane to it
	// failed to open.
	laneRetryAfter = 30 * time.Second
)

// lane is one TLS-over-TCP connection of a laneSet. It carries one request at a time.
type lane struct {
	conn      *tls.Conn
	broken    bool      // an I/O failed or a response was left unread: never reused
	idleSince time.Time // when it was last put back
}

// Read reads the response; a failed read breaks the lane.
func (l *lane) Read(b []byte) (int, error) {
	n, err := l.conn.Read(b)
	if err != nil {
		l.broken = true
	}
	return n, err
}

// laneSet is a peer's lanes, both the ones this node dialed (idle ones pooled for reuse) and
// the ones the peer dialed to it. Closing it closes them all, which ends their requests.
type laneSet struct {
	mu     sync.Mutex
	all    map[*tls.Conn]struct{} // every open lane, either direction
	idle   []*lane                // dialed lanes waiting for a request, oldest first
	dialed int                    // dialed lanes open or opening
	down   time.Time              // no dial before this
	closed bool
}

// add registers an open lane unless the set is closed or already holds limit lanes; false
// when it does not (the caller closes c).
func (s *laneSet) add(c *tls.Conn, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.all) >= limit {
		return false
	}
	if s.all == nil {
		s.all = map[*tls.Conn]struct{}{}
	}
	s.all[c] = struct{}{}
	return true
}

// remove forgets and closes c.
func (s *laneSet) remove(c *tls.Conn) {
	s.mu.Lock()
	delete(s.all, c)
	s.mu.Unlock()
	c.Close()
}

// count is the number of open lanes, both directions.
func (s *laneSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.all)
}

// close closes every lane; later adds fail.
func (s *laneSet) close() {
	s.mu.Lock()
	s.closed = true
	all := s.all
	s.all, s.idle = nil, nil
	s.mu.Unlock()
	for c := range all {
		c.Close()
	}
}

// take returns an idle dialed lane, or reserves the right to dial one (dial true), or
// neither when the peer's lanes are all busy, down or closed. Lanes idle for maxIdle or
// longer are closed on the way: the server may be about to close them.
func (s *laneSet) take(now time.Time, maxIdle time.Duration) (l *lane, dial bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	for len(s.idle) > 0 {
		l = s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if now.Sub(l.idleSince) < maxIdle {
			return l, false
		}
		delete(s.all, l.conn)
		s.dialed--
		l.conn.Close()
	}
	if s.dialed >= maxLanes || now.Before(s.down) {
		return nil, false
	}
	s.dialed++
	return nil, true
}

// dialFailed gives back a reservation from take whose dial failed; down says the peer's lane
// port failed (not the caller, who gave up), so that no dial follows for laneRetryAfter.
func (s *laneSet) dialFailed(now time.Time, down bool) {
	s.mu.Lock()
	s.dialed--
	if down {
		s.down = now.Add(laneRetryAfter)
	}
	s.mu.Unlock()
}

// put returns a dialed lane after a request: kept for the next one unless it is broken or the
// set closed.
func (s *laneSet) put(l *lane, now time.Time) {
	s.mu.Lock()
	if !l.broken && !s.closed {
		l.idleSince = now
		s.idle = append(s.idle, l)
		s.mu.Unlock()
		return
	}
	delete(s.all, l.conn)
	s.dialed--
	s.mu.Unlock()
	l.conn.Close()
}

// laneTLS derives the lane TLS configurations from the QUIC ones: the same certificate and
// verification, another ALPN.
func laneTLS(server, client *tls.Config) (*tls.Config, *tls.Config) {
	s, c := server.Clone(), client.Clone()
	s.NextProtos = []string{laneALPN}
	c.NextProtos = []string{laneALPN}
	return s, c
}

// listenLanes binds the TCP port of the QUIC listener's address and serves lanes on it. A
// node that cannot bind it still dials lanes; its peers send it requests over QUIC.
func (n *Node) listenLanes() {
	ln, err := net.Listen("tcp", n.pc.LocalAddr().String())
	if err != nil {
		n.log.Warn("p2p: no lane listener; peers' requests to this node use QUIC streams", "err", err)
		return
	}
	n.laneLn = ln
	handshakes := make(chan struct{}, maxLaneHandshakes)
	n.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Close
			}
			select {
			case handshakes <- struct{}{}:
				n.wg.Go(func() { n.serveLane(c, func() { <-handshakes }) })
			default:
				c.Close()
			}
		}
	})
}

// serveLane authenticates an accepted lane, calls handshaken, and answers the lane's requests
// until it fails, idles for IdleTimeout, or its peer's connection ends.
func (n *Node) serveLane(raw net.Conn, handshaken func()) {
	c := tls.Server(raw, n.laneServer)
	raw.SetDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
	err := c.HandshakeContext(n.ctx)
	handshaken()
	if err != nil {
		c.Close()
		return
	}
	raw.SetDeadline(time.Time{})
	id, err := certKey(c.ConnectionState())
	p := n.peer(id)
	if err != nil || p == nil || !p.lanes.add(c, 2*maxLanes) {
		// Not a registered peer (or one over its lanes): it has QUIC streams for requests.
		c.Close()
		return
	}
	defer p.lanes.remove(c)
	for {
		// A lane is closed only between requests: a requester whose reused lane ends before
		// any response byte knows its request was never read (laneRequest).
		raw.SetReadDeadline(time.Now().Add(n.cfg.IdleTimeout))
		in := &countingReader{r: c}
		r, err := p.readRequest(in)
		if err != nil {
			if in.n > 0 {
				// A request that was refused, not an idle lane closing: say so, or the
				// requester would send it again.
				raw.SetWriteDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
				p.respond(c, kindRequest, respRefused, []byte(truncateN(err.Error(), maxRespErrLen)))
			}
			return
		}
		raw.SetReadDeadline(time.Time{})
		if !p.answerOnLane(c, raw, r) {
			return
		}
	}
}

// answerOnLane answers one request read from a lane; false when the lane must be closed.
// While the handler runs, the lane is read: the requester sends nothing until it has the
// response, so a read that ends means it gave up (closed the lane), and the handler's context
// ends with it, as a reset stream's does.
func (p *peer) answerOnLane(c *tls.Conn, raw net.Conn, r request) bool {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	gone := make(chan bool, 1)
	go func() { // owned: answerOnLane waits for it below
		var b [1]byte
		n, err := c.Read(b[:])
		var ne net.Error
		left := n > 0 || !errors.As(err, &ne) || !ne.Timeout()
		if left {
			cancel()
		}
		gone <- left
	}()
	status, resp, release := p.answer(ctx, r)
	if release != nil {
		defer release() // tls.Conn.Write has sealed and sent every byte when it returns
	}
	raw.SetReadDeadline(time.Unix(1, 0)) // ends the watching read
	if <-gone || ctx.Err() != nil {
		return false
	}
	raw.SetReadDeadline(time.Time{})
	if dl, ok := ctx.Deadline(); ok {
		raw.SetWriteDeadline(dl)
	}
	err := p.respond(c, r.Kind, status, resp)
	raw.SetWriteDeadline(time.Time{})
	return err == nil
}

// requestOnLane sends a request frame over a lane to the peer and reads its response. ok is
// false when the peer has no lane for it; the caller then uses a QUIC stream.
func (p *peer) requestOnLane(ctx context.Context, kind Kind, frame, dst []byte, maxResp int) (resp []byte, ok bool, err error) {
	if p.n.laneClient == nil {
		return nil, false, nil
	}
	for attempt := 0; ; attempt++ {
		l, reused := p.lane(ctx)
		if l == nil {
			return nil, false, nil
		}
		resp, sent, err := p.laneRequest(ctx, l, kind, frame, dst, maxResp)
		p.lanes.put(l, p.n.cfg.Now())
		if !sent && reused && attempt == 0 && ctx.Err() == nil {
			continue // the server closed the idle lane first: it never read the request
		}
		if err != nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return resp, true, err
	}
}

// lane returns an idle lane to the peer (reused) or a newly dialed one, or nil.
func (p *peer) lane(ctx context.Context) (l *lane, reused bool) {
	now := p.n.cfg.Now()
	l, dial := p.lanes.take(now, p.n.cfg.IdleTimeout/2)
	if l != nil || !dial {
		return l, true
	}
	c, err := p.dialLane(ctx)
	if err != nil {
		if ctx.Err() != nil {
			p.lanes.dialFailed(now, false)
			return nil, false
		}
		p.lanes.dialFailed(now, true)
		p.n.log.Info("p2p: no lane to peer; requests use QUIC streams", "peer", p.id, "retry_in", laneRetryAfter, "err", err)
		return nil, false
	}
	if !p.lanes.add(c, math.MaxInt) { // take bounds the dialed lanes; this fails only when closed
		p.lanes.dialFailed(now, false)
		c.Close()
		return nil, false
	}
	return &lane{conn: c}, false
}

// dialLane opens and authenticates a lane to the peer's QUIC address.
func (p *peer) dialLane(ctx context.Context) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.n.cfg.HandshakeTimeout)
	defer cancel()
	addr := p.conn.RemoteAddr().String()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, p.n.laneClient)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("lane handshake with %s: %w", addr, err)
	}
	if id, err := certKey(c.ConnectionState()); err != nil || id != p.id {
		c.Close()
		return nil, fmt.Errorf("lane to %s: certificate key is not the peer's", addr)
	}
	return c, nil
}

// laneRequest is one request on l. sent is false when the lane ended cleanly before any byte
// of a response: on a reused lane that is the server having closed it as idle, before reading
// the request, which is then safe to send again.
func (p *peer) laneRequest(ctx context.Context, l *lane, kind Kind, frame, dst []byte, maxResp int) (resp []byte, sent bool, err error) {
	stop := context.AfterFunc(ctx, func() {
		l.conn.NetConn().SetDeadline(time.Unix(1, 0)) // unblocks both directions
	})
	defer func() {
		if !stop() {
			l.broken = true // the deadline in the past is set or about to be
		}
	}()
	if _, err := l.conn.Write(frame); err != nil {
		l.broken = true
		return nil, true, fmt.Errorf("write request on lane: %w", err) // the server may have refused it
	}
	p.n.met.MessageOut(p.id, kind, len(frame))
	counted := &countingReader{r: l}
	resp, err = p.readResponse(counted, func(quic.StreamErrorCode) { l.broken = true }, kind, dst, maxResp)
	// A server closing an idle lane sends TLS's close_notify: EOF. Anything else (a reset, a
	// refusal) is an answer.
	return resp, counted.n > 0 || !errors.Is(err, io.EOF), err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}
