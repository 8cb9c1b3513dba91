package hpfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hpfs/hpnode/merkle"
)

// TestLeasedProofsStayInTheSharedRegion: through a lease, a proof is built into the region the
// daemon shares (exactly the proof ProofRange builds, with the room asked for around it), and
// proofs read into another daemon's region are applied from there until the sync is done.
func TestLeasedProofsStayInTheSharedRegion(t *testing.T) {
	src, _, v2 := syncSource(t, 60)
	spc := NewProtoClient(serveSocket(t, src))
	defer spc.Close()
	dst := startDaemon(t, t.TempDir(), 0)
	dpc := NewProtoClient(serveSocket(t, dst))
	defer dpc.Close()
	bg := context.Background()

	starts, want := rangeProofs(t, src, v2)
	var st SyncStatus
	for i, start := range starts {
		sl, err := spc.Lease(bg)
		if err != nil {
			t.Fatal(err)
		}
		p, err := sl.RangeProofIn(bg, v2, start, nil, 9, 20_000, 7, 64)
		if err != nil || !bytes.Equal(p.Proof, want[i]) {
			t.Fatalf("proof %d differs from ProofRange's (%v)", i, err)
		}
		if off, ok := within(sl.Shared(), p.Proof); !ok || off != 7 || cap(p.Buf)-len(p.Buf) < 64 || &p.Buf[off] != &p.Proof[0] {
			t.Fatalf("proof %d not in the source's region at offset 7 with room after it (in region %v at %d)", i, ok, off)
		}
		dl, err := dpc.Lease(bg)
		if err != nil {
			t.Fatal(err)
		}
		// As a node does: the peer's bytes land in the destination's region, then are applied.
		buf := append(dl.Shared()[:0], p.Proof...)
		sl.Release()
		if _, ok := within(dl.Shared(), buf); !ok {
			t.Fatal("the destination's region cannot hold a proof")
		}
		st, err = dl.ApplyProof(bg, KindRange, merkle.Hash{}, v2, start, nil, buf)
		dl.Release()
		if err != nil {
			t.Fatalf("apply %d from the region: %v", i, err)
		}
	}
	if !st.Done || dst.Store().Head().Root != v2 {
		t.Fatalf("after every proof: done %v, head %s, want %s", st.Done, dst.Store().Head().Root, v2)
	}
	checkRefcounts(t, dst.Store())
}

// TestLeasedProofTooBigForTheRegionComesInTheFrame: a proof that does not fit after the room
// asked for is sent in the frame as before.
func TestLeasedProofTooBigForTheRegionComesInTheFrame(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	pc := NewProtoClient(serveSocket(t, d))
	defer pc.Close()
	bg := context.Background()
	head := d.Store().Head().Root
	want, _, err := d.ProofRange(head, merkle.Key{}, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := pc.Lease(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	room := len(l.Shared()) - len(want) + 1
	p, err := l.RangeProofIn(bg, head, merkle.Key{}, nil, 0, 0, room, 0)
	if err != nil || !bytes.Equal(p.Proof, want) {
		t.Fatalf("proof differs from ProofRange's (%v)", err)
	}
	if _, ok := within(l.Shared(), p.Proof); ok {
		t.Fatal("a proof that does not fit was put in the region")
	}
}

// TestSharedRequestsOutOfBoundsAreRefused: the daemon refuses a shared-region size out of
// bounds, an apply-proof naming bytes outside its region or on a connection without one, and
// stays usable after each.
func TestSharedRequestsOutOfBoundsAreRefused(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	sock := serveSocket(t, d)
	c, br := rawBinary(t, sock, FramePreamble(FrameVersion))
	send := func(req FrameRequest) {
		t.Helper()
		head, err := req.appendHead(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFrame(c, head); err != nil {
			t.Fatal(err)
		}
	}
	head := d.Store().Head().Root
	apply := FrameRequest{Op: FrameApplyProof, Kind: KindRange, Root: head, Start: merkle.Key{}, Shared: true, SharedLen: 10}
	send(apply)
	if p := readResponse(t, br, FrameApplyProof); p.Status == StatusOK || !strings.Contains(p.Message, "without a shared region") {
		t.Fatalf("shared apply without a region: %v", p.Err())
	}
	for _, size := range []uint32{0, MaxSharedBytes + 1} {
		body := []byte{byte(FrameShare), 0, 0}
		body = append(body, make([]byte, 64+4)...)
		body = binary.BigEndian.AppendUint32(body, size)
		body = appendKey(body, nil)
		if err := writeFrame(c, body); err != nil {
			t.Fatal(err)
		}
		if p := readResponse(t, br, FrameShare); p.Status == StatusOK || !strings.Contains(p.Message, "shared region") {
			t.Fatalf("share of %d bytes: status %d %q", size, p.Status, p.Message)
		}
	}

	pc := NewProtoClient(sock)
	defer pc.Close()
	l, err := pc.Lease(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Shared() == nil {
		t.Fatal("the daemon shared no region")
	}
	for _, r := range [][2]uint32{{uint32(len(l.Shared())) - 4, 5}, {1 << 31, 1 << 31}} {
		apply.SharedOff, apply.SharedLen = r[0], r[1]
		resp, err := l.call(context.Background(), &apply, frameRoom{})
		if err == nil || !strings.Contains(err.Error(), "outside the") {
			t.Fatalf("apply of [%d, +%d) in a %d-byte region: %+v, %v", r[0], r[1], len(l.Shared()), resp, err)
		}
	}
	if _, err := l.RangeProofIn(context.Background(), head, merkle.Key{}, nil, 0, 0, 7, 64); err != nil {
		t.Fatalf("the lease is unusable after refused requests: %v", err)
	}
}

// TestSharedProofReplyOutsideTheRegionIsRejected: a daemon reply that places a proof outside
// the client's region (or in it, unasked) is a malformed frame, never a slice out of bounds.
func TestSharedProofReplyOutsideTheRegionIsRejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		asked  bool
		length uint32
	}{
		{"past the end", true, DefaultSharedBytes},
		{"unasked", false, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := fakeDaemon(t, func(c *net.UnixConn, op FrameOp) {
				if op == FrameShare {
					region, fd, err := newSharedRegion(DefaultSharedBytes)
					if err != nil {
						t.Error(err)
						return
					}
					unmapShared(region)
					defer unix.Close(fd)
					frame := binary.BigEndian.AppendUint32(nil, 5)
					frame = binary.BigEndian.AppendUint32(append(frame, byte(StatusOK)), DefaultSharedBytes)
					c.WriteMsgUnix(frame, unix.UnixRights(fd), nil)
					return
				}
				body := binary.BigEndian.AppendUint32([]byte{byte(StatusOK), flagShared}, tc.length)
				writeFrame(c, body)
			})
			pc := NewProtoClient(sock)
			defer pc.Close()
			l, err := pc.Lease(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			head := 8
			if !tc.asked {
				head = len(l.Shared()) // no room left: the proof is not asked for in the region
			}
			if _, err := l.RangeProofIn(context.Background(), merkle.Hash{1}, merkle.Key{}, nil, 0, 0, head, 0); !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("shared reply %s: %v, want ErrMalformedFrame", tc.name, err)
			}
		})
	}
}

// fakeDaemon serves binary-mode connections on a socket with answer, called for each request.
func fakeDaemon(t *testing.T, answer func(c *net.UnixConn, op FrameOp)) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c := conn.(*net.UnixConn)
			pre := make([]byte, len(frameMagic)+1)
			if _, err := c.Read(pre); err != nil {
				c.Close()
				continue
			}
			for {
				body, err := ReadFrame(c, MaxFrameBytes)
				if err != nil {
					break
				}
				answer(c, FrameOp(body[0]))
			}
			c.Close()
		}
	}()
	return sock
}

// TestLeaseFromADaemonWithoutShareCarriesProofsInFrames: a daemon that refuses op share (an
// older one) gives leases without a region, and proofs then travel in frames as before.
func TestLeaseFromADaemonWithoutShareCarriesProofsInFrames(t *testing.T) {
	sock := fakeDaemon(t, func(c *net.UnixConn, op FrameOp) {
		if op == FrameShare {
			writeFrame(c, append([]byte{byte(StatusError)}, "decode request: unknown op(5)"...))
			return
		}
		writeFrame(c, append([]byte{byte(StatusOK), 0}, "proof"...))
	})
	pc := NewProtoClient(sock)
	defer pc.Close()
	for range 2 { // the second lease does not ask again
		l, err := pc.Lease(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if l.Shared() != nil {
			t.Fatal("a region from a daemon that refused to share")
		}
		p, err := l.RangeProofIn(context.Background(), merkle.Hash{1}, merkle.Key{}, nil, 0, 0, 7, 64)
		if err != nil || string(p.Proof) != "proof" {
			t.Fatalf("proof in a frame: %q, %v", p.Proof, err)
		}
		l.Release()
	}
	if !pc.noShare.Load() {
		t.Fatal("the refusal was not remembered")
	}
}

// TestLeaseOfADeadConnectionIsBrokenAndTheNextWorks: a pooled connection (with its region) to
// a daemon that has since closed its socket fails its call as Broken; the next lease dials anew.
func TestLeaseOfADeadConnectionIsBrokenAndTheNextWorks(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	sock := filepath.Join(t.TempDir(), "hpfsd.sock")
	stop := serveSocketAt(t, d, sock)
	pc := NewProtoClient(sock)
	defer pc.Close()
	bg := context.Background()
	head := d.Store().Head().Root
	l, err := pc.Lease(bg)
	if err != nil || l.Shared() == nil {
		t.Fatalf("lease: %v (region %v)", err, l != nil && l.Shared() != nil)
	}
	l.Release()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	defer serveSocketAt(t, d, sock)()

	l, err = pc.Lease(bg) // the pooled connection, dead
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.RangeProofIn(bg, head, merkle.Key{}, nil, 0, 0, 7, 64); err == nil || !l.Broken() {
		t.Fatalf("call on a dead connection: %v, broken %v", err, l.Broken())
	}
	l.Release()
	l, err = pc.Lease(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := l.RangeProofIn(bg, head, merkle.Key{}, nil, 0, 0, 7, 64); err != nil || l.Shared() == nil {
		t.Fatalf("lease after the restart: %v (region %v)", err, l.Shared() != nil)
	}
}

// TestCloseIdleKeepsTheClientUsable: CloseIdle drops the pooled connections (and unmaps their
// regions); the next lease dials anew and shares a fresh region.
func TestCloseIdleKeepsTheClientUsable(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	pc := NewProtoClient(serveSocket(t, d))
	defer pc.Close()
	bg := context.Background()
	l, err := pc.Lease(bg)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	pc.CloseIdle()
	pc.mu.Lock()
	idle := len(pc.idle)
	pc.mu.Unlock()
	if idle != 0 {
		t.Fatalf("%d idle connections after CloseIdle", idle)
	}
	l, err = pc.Lease(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := l.RangeProofIn(bg, d.Store().Head().Root, merkle.Key{}, nil, 0, 0, 7, 64); err != nil || l.Shared() == nil {
		t.Fatalf("lease after CloseIdle: %v (region %v)", err, l.Shared() != nil)
	}
}

// TestIdleConnectionsExpire: a pooled connection idle for the client's idle timeout is closed
// and its region unmapped, without any further call; one idle for less stays until its turn.
func TestIdleConnectionsExpire(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	pc := NewProtoClient(serveSocket(t, d))
	pc.idleTimeout = time.Hour // expire is called by hand first
	defer pc.Close()
	bg := context.Background()
	idle := func() []*protoConn {
		pc.mu.Lock()
		defer pc.mu.Unlock()
		return append([]*protoConn(nil), pc.idle...)
	}
	a, err := pc.Lease(bg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pc.Lease(bg)
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	b.Release()
	conns := idle()
	if len(conns) != 2 || conns[0].shared == nil || conns[1].shared == nil {
		t.Fatalf("%d idle connections after two releases, want 2 with regions", len(conns))
	}
	pc.mu.Lock()
	conns[0].idleSince = time.Now().Add(-2 * time.Hour)
	pc.mu.Unlock()
	pc.expire()
	if left := idle(); len(left) != 1 || left[0] != conns[1] || conns[0].shared != nil {
		t.Fatalf("after expiry: %d idle connections (the later one kept: %v), expired region unmapped: %v",
			len(left), len(left) == 1 && left[0] == conns[1], conns[0].shared == nil)
	}

	// The timer does it on its own, and the pool works on afterwards.
	pc.mu.Lock()
	pc.idleTimeout = 50 * time.Millisecond
	pc.armExpiryLocked(pc.idleTimeout)
	pc.mu.Unlock()
	waitIdle := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(idle()) != 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d idle connections never expired", len(idle()))
			}
		}
	}
	waitIdle()
	l, err := pc.Lease(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.RangeProofIn(bg, d.Store().Head().Root, merkle.Key{}, nil, 0, 0, 7, 64); err != nil || l.Shared() == nil {
		t.Fatalf("lease after expiry: %v (region %v)", err, l.Shared() != nil)
	}
	l.Release()
	waitIdle()
}
