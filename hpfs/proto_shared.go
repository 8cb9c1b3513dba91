package hpfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hpfs/hpnode/merkle"
)

// Shared regions. Every proof of a sync crosses the control socket once on each side of the
// wire: the serving daemon writes it to its node, the syncing node writes it to its daemon.
// Through the socket that is a copy into the kernel and one out of it per byte, plus fresh
// buffers to read into (~0.8 CPU-s of a 1 GiB sync). A binary-mode connection may instead ask
// for a region of memory shared with the daemon (op share): the daemon creates a memfd of the
// size asked, maps it and passes the descriptor back with the reply (SCM_RIGHTS); the client
// maps it too. A range or change proof request then asks for the proof to be written into the
// region (the daemon copies its parts there instead of into the socket, or sends it in the
// frame as before when it does not fit), and an apply-proof may name a proof lying in the
// region instead of carrying it, so the bytes the node received from a peer are verified and
// stored by the daemon where they are.
//
// A region belongs to its connection: requests on one connection are answered in order, so the
// region is the client's between calls and the daemon's during one. A client that exposes the
// region to its callers (Lease) holds the connection until they give it back. The daemon
// verifies an apply-proof's bytes in the region and stores what it verified; only its client
// can write there meanwhile, and that client is blocked in the call (it is trusted as much as
// any client of this socket, which can commit arbitrary rw sessions).

// MaxSharedBytes bounds a shared region.
const MaxSharedBytes = 64 << 20

// DefaultSharedBytes is the region size a Lease asks for: a statesync response for a 4 MiB
// proof with its hints fits, and only the pages used are ever allocated.
const DefaultSharedBytes = 16 << 20

// maxShareReply bounds the reply to op share (an error's message included).
const maxShareReply = 64 << 10

// newSharedRegion creates a memfd of size bytes and maps it; the caller closes fd once it has
// been sent and unmaps the region at the end of the connection.
func newSharedRegion(size int) (region []byte, fd int, err error) {
	fd, err = unix.MemfdCreate("hpfsd-proofs", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, -1, fmt.Errorf("memfd: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, -1, fmt.Errorf("size memfd: %w", err)
	}
	region, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, -1, fmt.Errorf("map memfd: %w", err)
	}
	return region, fd, nil
}

// unmapShared releases a region; nothing may reference it afterwards.
func unmapShared(region []byte) {
	if region != nil {
		_ = unix.Munmap(region)
	}
}

// replyShare answers op share on conn: a new region replaces the connection's (*shared) and
// its descriptor goes with the reply. Only an error writing the reply is returned; any other
// failure is the reply.
func (d *Daemon) replyShare(conn net.Conn, req *FrameRequest, shared *[]byte) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return d.replyFrame(conn, req.Op, errorResponse(fmt.Errorf("share: %T is not a unix socket", conn)))
	}
	region, fd, err := newSharedRegion(int(req.MaxBytes))
	if err != nil {
		return d.replyFrame(conn, req.Op, errorResponse(fmt.Errorf("share: %w", err)))
	}
	defer unix.Close(fd) // the client holds its own descriptor once the reply is sent
	unmapShared(*shared)
	*shared = region
	resp := FrameResponse{SharedLen: req.MaxBytes}
	body, err := resp.appendHead(FrameShare, nil)
	if err != nil {
		return err
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	frame = append(frame, body...)
	n, _, err := uc.WriteMsgUnix(frame, unix.UnixRights(fd), nil)
	if err == nil && n != len(frame) {
		err = fmt.Errorf("share: wrote %d of %d bytes", n, len(frame))
	}
	return err
}

// sharedProof returns the proof an apply-proof names in the shared region.
func sharedProof(shared []byte, req *FrameRequest) ([]byte, error) {
	if shared == nil {
		return nil, fmt.Errorf("%w: shared proof on a connection without a shared region", ErrMalformedFrame)
	}
	end := uint64(req.SharedOff) + uint64(req.SharedLen)
	if end > uint64(len(shared)) {
		return nil, fmt.Errorf("%w: shared proof [%d, %d) outside the %d-byte region", ErrMalformedFrame, req.SharedOff, end, len(shared))
	}
	return shared[req.SharedOff:end:end], nil
}

// putShared writes a proof's parts into the shared region at off and reports whether they fit.
func putShared(shared []byte, off uint32, parts [][]byte) (uint32, bool) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if shared == nil || uint64(off)+uint64(n) > uint64(len(shared)) {
		return 0, false
	}
	at := int(off)
	for _, p := range parts {
		at += copy(shared[at:], p)
	}
	return uint32(n), true
}

// errNoShare: the daemon answered op share with an error (an older daemon does not know it);
// the connection is still usable without a region.
var errNoShare = errors.New("daemon offers no shared region")

// share asks the daemon for a region of size bytes on pc and maps it. The reply is read with
// recvmsg straight from the socket, since a plain read would drop the descriptor; pc's buffered
// reader holds nothing then (every earlier reply on pc was read whole, and the daemon sends
// nothing unasked).
func (c *ProtoClient) share(ctx context.Context, pc *protoConn, size int) error {
	uc, ok := pc.c.(*net.UnixConn)
	if !ok || pc.br.Buffered() != 0 {
		return errNoShare
	}
	req := FrameRequest{Op: FrameShare, Start: merkle.Key{}, MaxBytes: uint32(size)}
	head, err := req.appendHead(nil)
	if err != nil {
		return err
	}
	defer bindDeadline(ctx, pc.c)()
	if err := writeFrame(pc.c, head); err != nil {
		return fmt.Errorf("share: send: %w", err)
	}
	body, fds, err := readFrameWithFDs(uc, maxShareReply)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if err != nil {
		return fmt.Errorf("share: read reply: %w", err)
	}
	var resp FrameResponse
	if err := resp.UnmarshalBinary(FrameShare, body); err != nil {
		return fmt.Errorf("share: decode reply: %w", err)
	}
	if err := resp.Err(); err != nil {
		return fmt.Errorf("%w: %w", errNoShare, err)
	}
	if len(fds) != 1 {
		return fmt.Errorf("%w: share reply carried %d descriptors", ErrMalformedFrame, len(fds))
	}
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != nil {
		return fmt.Errorf("share: stat region: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != int64(resp.SharedLen) {
		return fmt.Errorf("%w: shared region of %d bytes (mode %o), announced %d", ErrMalformedFrame, st.Size, st.Mode, resp.SharedLen)
	}
	region, err := unix.Mmap(fds[0], 0, int(resp.SharedLen), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("share: map region: %w", err)
	}
	pc.shared = region
	return nil
}

// readFrameWithFDs reads one frame of at most max bytes with recvmsg, collecting the
// descriptors that came with it.
func readFrameWithFDs(uc *net.UnixConn, max int) (body []byte, fds []int, err error) {
	oob := make([]byte, unix.CmsgSpace(4*4))
	buf := make([]byte, 4, 64)
	for got := 0; got < len(buf); {
		n, oobn, _, _, err := uc.ReadMsgUnix(buf[got:], oob)
		if oobn > 0 {
			msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			for i := range msgs {
				if rights, rerr := unix.ParseUnixRights(&msgs[i]); rerr == nil {
					fds = append(fds, rights...)
				} else if perr == nil {
					perr = rerr
				}
			}
			if perr != nil {
				return nil, fds, fmt.Errorf("control message: %w", perr)
			}
		}
		if err != nil {
			return nil, fds, err
		}
		if n == 0 {
			return nil, fds, fmt.Errorf("connection closed after %d bytes", got)
		}
		if got += n; got == 4 && len(buf) == 4 {
			size := binary.BigEndian.Uint32(buf)
			if uint64(size) > uint64(max) {
				return nil, fds, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, max)
			}
			buf = append(buf, make([]byte, size)...)
		}
	}
	return buf[4:], fds, nil
}

// Lease is one connection of a ProtoClient held by one caller, with its shared region if the
// daemon offers one: a caller reads a response from a peer into Shared and applies it, or has
// a proof built into it and sends it on, without the bytes crossing the socket. The region and
// anything read from it stay valid until Release; the connection serves no one else until
// then. A Lease is not safe for concurrent use.
type Lease struct {
	c      *ProtoClient
	pc     *protoConn
	broken bool
}

// Lease takes a connection from the pool (or dials one) and makes sure it has a shared region
// of DefaultSharedBytes, unless the daemon offers none (Shared is then nil and every call
// carries its proof in the frame).
func (c *ProtoClient) Lease(ctx context.Context) (*Lease, error) {
	for attempt := 0; ; attempt++ {
		var pc *protoConn
		reused := false
		var err error
		if attempt == 0 {
			pc, reused, err = c.get()
		} else {
			pc, err = c.dial()
		}
		if err != nil {
			return nil, err
		}
		if pc.shared != nil || c.noShare.Load() {
			return &Lease{c: c, pc: pc}, nil
		}
		err = c.share(ctx, pc, DefaultSharedBytes)
		if err == nil {
			return &Lease{c: c, pc: pc}, nil
		}
		if errors.Is(err, errNoShare) {
			c.noShare.Store(true)
			return &Lease{c: c, pc: pc}, nil
		}
		pc.close()
		if ctx.Err() != nil || !reused {
			return nil, fmt.Errorf("lease: %w", err)
		}
		// A dead pooled connection means the daemon went away: so are the other idle ones.
		c.dropIdle()
	}
}

// Broken reports that a call on the lease failed in transport (not with the daemon's answer):
// the connection is closed, and a caller may retry on another lease or through the
// ProtoClient (every operation is idempotent), still reading from Shared until Release.
func (l *Lease) Broken() bool { return l.broken }

// Shared returns the lease's shared region, nil if the daemon offers none.
func (l *Lease) Shared() []byte { return l.pc.shared }

// Release gives the connection back (or closes it after a failed call, unmapping its region).
// Nothing read from the region may be used afterwards.
func (l *Lease) Release() {
	if l.pc == nil {
		return
	}
	pc := l.pc
	l.pc = nil
	if l.broken {
		pc.close()
		return
	}
	l.c.put(pc)
}

// call sends one request on the leased connection, once: the region's content belongs to this
// connection, so a failure is not retried elsewhere; it closes the connection (its region stays
// mapped until Release).
func (l *Lease) call(ctx context.Context, req *FrameRequest, room frameRoom) (*FrameResponse, error) {
	if l.pc == nil {
		return nil, fmt.Errorf("%s: lease already released", req.Op)
	}
	if l.broken {
		return nil, fmt.Errorf("%s: leased connection failed earlier", req.Op)
	}
	head, err := req.appendHead(make([]byte, 0, 96+len(req.Start)+len(req.End)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Op, err)
	}
	resp, err := l.c.exchange(ctx, l.pc, req, head, room)
	if err != nil {
		l.broken = true
		l.pc.c.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", req.Op, context.Cause(ctx))
		}
		// A dead connection means the daemon went away: so are the idle ones.
		l.c.dropIdle()
		return nil, fmt.Errorf("%s: %w", req.Op, err)
	}
	if err := resp.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Op, err)
	}
	return resp, nil
}

// RangeProofIn is ProtoClient.RangeProofIn on the leased connection: the proof is built into
// the shared region after head bytes when it fits (Buf is then the region up to the proof's
// end, its capacity the region's), else read as ProtoClient.RangeProofIn reads it.
func (l *Lease) RangeProofIn(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes uint32, head, tail int) (ProofIn, error) {
	return l.proofIn(ctx, proofRequest(FrameRangeProof, merkle.Hash{}, root, start, end, maxEntries, maxBytes), head, tail)
}

// ChangeProofIn is RangeProofIn for a change proof.
func (l *Lease) ChangeProofIn(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes uint32, head, tail int) (ProofIn, error) {
	return l.proofIn(ctx, proofRequest(FrameChangeProof, base, root, start, end, maxEntries, maxBytes), head, tail)
}

func (l *Lease) proofIn(ctx context.Context, req *FrameRequest, head, tail int) (ProofIn, error) {
	if shared := l.Shared(); shared != nil && head >= 0 && tail >= 0 && head+tail < len(shared) {
		req.Shared, req.SharedOff = true, uint32(head)
	}
	return readProofIn(ctx, req, head, tail, l.call)
}

// ApplyProof is ProtoClient.ApplyProof on the leased connection; a proof lying in the shared
// region is named, not sent.
func (l *Lease) ApplyProof(ctx context.Context, kind ProofKind, base, target merkle.Hash, start, end merkle.Key, proof []byte) (SyncStatus, error) {
	req := &FrameRequest{Op: FrameApplyProof, Kind: kind, Base: base, Root: target, Start: start, End: end, Proof: proof}
	if off, ok := within(l.Shared(), proof); ok {
		req.Proof, req.Shared, req.SharedOff, req.SharedLen = nil, true, uint32(off), uint32(len(proof))
	}
	resp, err := l.call(ctx, req, frameRoom{})
	if err != nil {
		return SyncStatus{}, err
	}
	return resp.Sync, nil
}

// within reports whether b lies inside region, and at which offset.
func within(region, b []byte) (int, bool) {
	if len(region) == 0 || len(b) == 0 {
		return 0, false
	}
	r0 := uintptr(unsafe.Pointer(unsafe.SliceData(region)))
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if b0 < r0 || b0-r0 > uintptr(len(region)) || uintptr(len(b)) > uintptr(len(region))-(b0-r0) {
		return 0, false
	}
	return int(b0 - r0), true
}
