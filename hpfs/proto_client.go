package hpfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// ProtoClient calls a daemon's proof operations in binary mode over a pool of connections, so
// several proofs can be built or applied at once (the daemon serves each connection on its own
// goroutine). It is safe for concurrent use.
type ProtoClient struct {
	socket  string
	maxIdle int
	// idleTimeout is how long a connection may sit idle before the pool closes it.
	idleTimeout time.Duration

	mu sync.Mutex
	// idle is a stack: put pushes, get pops the most recently used, so the front holds the
	// connections idle longest and expiry closes from there.
	idle   []*protoConn
	closed bool
	// expiry is armed while idle is not empty (nil or stopped otherwise).
	expiry *time.Timer
	// noShare is set once the daemon refused op share: leases go without a region.
	noShare atomic.Bool
}

// DefaultMaxIdle is how many idle connections a ProtoClient keeps.
const DefaultMaxIdle = 16

// DefaultIdleTimeout is how long a pooled connection may stay idle. A connection that served
// proofs keeps its shared region's touched pages (up to a few MiB each, ~70 MiB for a full pool)
// in both processes; a node that served a sync should not hold them until the next one.
const DefaultIdleTimeout = 30 * time.Second

type protoConn struct {
	c  net.Conn
	br *bufio.Reader
	// shared is the connection's shared region (proto_shared.go), nil without one. It is
	// unmapped only by close, called by whoever holds the connection alone: the pool for an
	// idle one, a Lease's Release for a leased one.
	shared []byte
	// idleSince is when the pool took the connection back.
	idleSince time.Time
}

// close closes the connection and unmaps its region.
func (pc *protoConn) close() {
	pc.c.Close()
	unmapShared(pc.shared)
	pc.shared = nil
}

// NewProtoClient returns a client of the daemon listening on socket. It connects lazily.
func NewProtoClient(socket string) *ProtoClient {
	return &ProtoClient{socket: socket, maxIdle: DefaultMaxIdle, idleTimeout: DefaultIdleTimeout}
}

// Close closes the idle connections; calls in flight finish and close theirs.
func (c *ProtoClient) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
	return nil
}

// CloseIdle closes the idle connections and unmaps their shared regions; the client stays
// usable (it dials again when needed). A caller done with a burst of calls (a sync) calls it
// so that nothing stays pinned meanwhile.
func (c *ProtoClient) CloseIdle() { c.dropIdle() }

func (c *ProtoClient) dropIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

func (c *ProtoClient) dial() (*protoConn, error) {
	conn, err := net.Dial("unix", c.socket)
	if err != nil {
		return nil, fmt.Errorf("connect to hpfsd at %s: %w", c.socket, err)
	}
	if _, err := conn.Write(FramePreamble(FrameVersion)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("hpfsd at %s: send preamble: %w", c.socket, err)
	}
	return &protoConn{c: conn, br: bufio.NewReaderSize(conn, 64<<10)}, nil
}

func (c *ProtoClient) get() (pc *protoConn, reused bool, err error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		pc = c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return pc, true, nil
	}
	c.mu.Unlock()
	pc, err = c.dial()
	return pc, false, err
}

func (c *ProtoClient) put(pc *protoConn) {
	c.mu.Lock()
	if !c.closed && len(c.idle) < c.maxIdle {
		pc.idleSince = time.Now()
		c.idle = append(c.idle, pc)
		pc = nil
		if len(c.idle) == 1 {
			c.armExpiryLocked(c.idleTimeout)
		}
	}
	c.mu.Unlock()
	if pc != nil {
		pc.close()
	}
}

// armExpiryLocked makes expire run after d.
func (c *ProtoClient) armExpiryLocked(d time.Duration) {
	if c.expiry == nil {
		c.expiry = time.AfterFunc(d, c.expire)
		return
	}
	c.expiry.Reset(d)
}

// expire closes the connections idle for idleTimeout or longer, and arms itself again for the
// oldest one left.
func (c *ProtoClient) expire() {
	now := time.Now()
	c.mu.Lock()
	n := 0
	for n < len(c.idle) && now.Sub(c.idle[n].idleSince) >= c.idleTimeout {
		n++
	}
	old := append([]*protoConn(nil), c.idle[:n]...)
	kept := copy(c.idle, c.idle[n:])
	clear(c.idle[kept:])
	c.idle = c.idle[:kept]
	if len(c.idle) > 0 && !c.closed {
		c.armExpiryLocked(c.idleTimeout - now.Sub(c.idle[0].idleSince))
	}
	c.mu.Unlock()
	for _, pc := range old {
		pc.close()
	}
}

// roundTrip sends one request (head then the proof bytes) and reads its response. A failure on
// a reused connection (the daemon restarted, or closed it at shutdown) is retried once on a
// fresh one: every operation is idempotent (applying a proof twice stores the same objects and
// marks the same range).
func (c *ProtoClient) roundTrip(ctx context.Context, req *FrameRequest, room frameRoom) (*FrameResponse, error) {
	head, err := req.appendHead(make([]byte, 0, 96+len(req.Start)+len(req.End)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Op, err)
	}
	for attempt := 0; ; attempt++ {
		var pc *protoConn
		reused := false
		if attempt == 0 {
			pc, reused, err = c.get()
		} else {
			pc, err = c.dial()
		}
		if err != nil {
			return nil, err
		}
		resp, err := c.exchange(ctx, pc, req, head, room)
		if err == nil {
			c.put(pc)
			return resp, nil
		}
		pc.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", req.Op, context.Cause(ctx))
		}
		if !reused || errors.Is(err, ErrMalformedFrame) {
			return nil, fmt.Errorf("%s: %w", req.Op, err)
		}
		// A dead pooled connection means the daemon went away: so are the other idle ones.
		c.dropIdle()
	}
}

// bindDeadline makes ctx's deadline conn's, and ctx's cancellation interrupt a blocked read or
// write on conn (by moving the deadline to now) until the returned stop is called.
func bindDeadline(ctx context.Context, conn net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Time{})
	}
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
}

// frameRoom is the free room asked for around a response's body (none: a plain buffer).
type frameRoom struct{ head, tail int }

// exchange sends req (head is its encoded head) on pc and reads the response. A proof result
// written to pc's shared region (only when req asked for it) aliases the region.
func (c *ProtoClient) exchange(ctx context.Context, pc *protoConn, req *FrameRequest, head []byte, room frameRoom) (*FrameResponse, error) {
	// A call whose context is already done is not sent: the cancellation below only moves the
	// deadline from another goroutine, which a quick exchange could beat.
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	defer bindDeadline(ctx, pc.c)()
	if err := writeFrame(pc.c, head, req.Proof); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	var buf, body []byte
	var err error
	if room == (frameRoom{}) {
		body, err = ReadFrame(pc.br, MaxFrameBytes)
	} else {
		buf, body, err = readFrameRoom(pc.br, room.head, room.tail, MaxFrameBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	var resp FrameResponse
	if err := resp.UnmarshalBinary(req.Op, body); err != nil {
		return nil, fmt.Errorf("decode reply: %w", err)
	}
	resp.buf = buf
	if resp.Status == StatusOK && resp.Shared {
		end := uint64(req.SharedOff) + uint64(resp.SharedLen)
		if !req.Shared || end > uint64(len(pc.shared)) {
			return nil, fmt.Errorf("%w: shared proof [%d, %d) outside the %d-byte region (asked: %v)", ErrMalformedFrame, req.SharedOff, end, len(pc.shared), req.Shared)
		}
		resp.buf = pc.shared[:end]
		resp.Proof = pc.shared[req.SharedOff:end]
	}
	return &resp, nil
}

// call is roundTrip plus the response's status as an error.
func (c *ProtoClient) call(ctx context.Context, req *FrameRequest) (*FrameResponse, error) {
	return c.callRoom(ctx, req, frameRoom{})
}

// callRoom is call reading the response into a buffer with room around it.
func (c *ProtoClient) callRoom(ctx context.Context, req *FrameRequest, room frameRoom) (*FrameResponse, error) {
	resp, err := c.roundTrip(ctx, req, room)
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Op, err)
	}
	return resp, nil
}

// RangeProof asks for the range proof of root over [start, end] (end nil: to the end) within
// the limits (0: the daemon's defaults). It returns the marshalled merkle.RangeProof and its end;
// a root the daemon does not keep gives an error wrapping ErrUnknownVersion.
func (c *ProtoClient) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes uint32) ([]byte, merkle.Key, error) {
	resp, err := c.call(ctx, proofRequest(FrameRangeProof, merkle.Hash{}, root, start, end, maxEntries, maxBytes))
	if err != nil {
		return nil, nil, err
	}
	return resp.Proof, resp.End, nil
}

// ChangeProof asks for the change proof from base to root over [start, end]; fallback says the
// daemon did not keep base and sent a range proof at root wrapped as a change proof.
func (c *ProtoClient) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes uint32) (proof []byte, pend merkle.Key, fallback bool, err error) {
	resp, err := c.call(ctx, proofRequest(FrameChangeProof, base, root, start, end, maxEntries, maxBytes))
	if err != nil {
		return nil, nil, false, err
	}
	return resp.Proof, resp.End, resp.Fallback, nil
}

// ProofIn is a proof response read into a buffer with free room around the proof (RangeProofIn,
// ChangeProofIn): Proof aliases Buf, which holds at least the head bytes asked for before it
// (free to overwrite: End is a copy) and whose capacity runs at least the tail bytes asked for
// past it. Its offset in Buf is cap(Buf)-cap(Proof).
type ProofIn struct {
	Buf, Proof []byte
	// End is the proof's end (nil: the end of the key space); Fallback says a change proof
	// fell back to a range proof at the root.
	End      merkle.Key
	Fallback bool
}

// RangeProofIn is RangeProof reading the proof into a buffer with head free bytes before it
// and tail bytes of spare capacity after it: a caller that wraps the proof in a message of its
// own (statesync's response) encodes the wrapper around it instead of copying megabytes.
func (c *ProtoClient) RangeProofIn(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes uint32, head, tail int) (ProofIn, error) {
	return c.proofIn(ctx, proofRequest(FrameRangeProof, merkle.Hash{}, root, start, end, maxEntries, maxBytes), head, tail)
}

// ChangeProofIn is ChangeProof reading the proof as RangeProofIn does.
func (c *ProtoClient) ChangeProofIn(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes uint32, head, tail int) (ProofIn, error) {
	return c.proofIn(ctx, proofRequest(FrameChangeProof, base, root, start, end, maxEntries, maxBytes), head, tail)
}

// proofRequest is the request for a proof (op FrameRangeProof or FrameChangeProof, base zero for
// a range proof) at root over [start, end].
func proofRequest(op FrameOp, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes uint32) *FrameRequest {
	return &FrameRequest{Op: op, Base: base, Root: root, Start: start, End: end, MaxEntries: maxEntries, MaxBytes: maxBytes}
}

func (c *ProtoClient) proofIn(ctx context.Context, req *FrameRequest, head, tail int) (ProofIn, error) {
	return readProofIn(ctx, req, head, tail, c.callRoom)
}

// readProofIn asks for the proof of req through call, with head bytes of room before it and tail
// after it (see ProofIn). Plain and leased connections both read proofs through it.
func readProofIn(ctx context.Context, req *FrameRequest, head, tail int,
	call func(context.Context, *FrameRequest, frameRoom) (*FrameResponse, error)) (ProofIn, error) {
	if head < 0 || tail < 0 {
		return ProofIn{}, fmt.Errorf("%s: negative room %d/%d around the proof", req.Op, head, tail)
	}
	// At least one byte of head room, so that the buffer is never the plain one.
	resp, err := call(ctx, req, frameRoom{head: max(head, 1), tail: tail})
	if err != nil {
		return ProofIn{}, err
	}
	return ProofIn{Buf: resp.buf, Proof: resp.Proof, End: resp.End, Fallback: resp.Fallback}, nil
}

// ApplyProof has the daemon verify and apply one proof for the sync to target (base: a change
// proof's old root). A proof the daemon rejects gives an error wrapping ErrProofRejected.
func (c *ProtoClient) ApplyProof(ctx context.Context, kind ProofKind, base, target merkle.Hash, start, end merkle.Key, proof []byte) (SyncStatus, error) {
	resp, err := c.call(ctx, &FrameRequest{Op: FrameApplyProof, Kind: kind, Base: base, Root: target,
		Start: start, End: end, Proof: proof})
	if err != nil {
		return SyncStatus{}, err
	}
	return resp.Sync, nil
}

// BeginSync starts (or moves) the daemon's sync to target from its head and returns what
// remains (see Daemon.BeginSync).
func (c *ProtoClient) BeginSync(ctx context.Context, target merkle.Hash) (SyncStatus, error) {
	resp, err := c.call(ctx, &FrameRequest{Op: FrameSyncBegin, Root: target, Start: merkle.Key{}})
	if err != nil {
		return SyncStatus{}, err
	}
	return resp.Sync, nil
}
