package hpfs

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// serveSocket serves d's control socket until the test ends and checks that ServeControl then
// returns, which it does only once every connection handler has ended.
func serveSocket(t *testing.T, d *Daemon) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "hpfsd.sock")
	stop := serveSocketAt(t, d, sock)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return sock
}

// serveSocketAt serves d's control socket at sock until stop, which returns ServeControl's
// error, or an error if it did not return within 30 s of the cancel (a stuck connection
// handler). Tests that restart the socket under a client's pooled connections use it directly.
func serveSocketAt(t *testing.T, d *Daemon, sock string) (stop func() error) {
	t.Helper()
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- d.ServeControl(ctx, sock) }()
	waitSocket(t, sock)
	return func() error {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("ServeControl: %w", err)
			}
			return nil
		case <-time.After(30 * time.Second):
			return errors.New("ServeControl did not return after cancel: a connection handler is stuck")
		}
	}
}

// rawBinary opens a binary-mode connection by hand, with the given preamble.
func rawBinary(t *testing.T, sock string, preamble []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(preamble); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader, op FrameOp) *FrameResponse {
	t.Helper()
	body, err := ReadFrame(br, MaxFrameBytes)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	var p FrameResponse
	if err := p.UnmarshalBinary(op, body); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return &p
}

func expectClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open after a fatal frame error: %v", err)
	}
}

func TestBinaryModeRejectsWrongVersionAndMagic(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	sock := serveSocket(t, d)
	for _, pre := range [][]byte{FramePreamble(FrameVersion + 1), []byte("HPFSBOX\x01")} {
		_, br := rawBinary(t, sock, pre)
		p := readResponse(t, br, 0)
		if p.Status != StatusError || !strings.Contains(p.Message, ErrFrameVersion.Error()) {
			t.Fatalf("preamble %q: %+v, want an error naming the version", pre, p)
		}
		expectClosed(t, br)
	}
}

func TestBinaryModeAnswersGarbageAndStaysUsable(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	sock := serveSocket(t, d)
	c, br := rawBinary(t, sock, FramePreamble(FrameVersion))
	for _, garbage := range [][]byte{{}, {0xde, 0xad, 0xbe, 0xef}, make([]byte, 1000)} {
		if err := writeFrame(c, garbage); err != nil {
			t.Fatal(err)
		}
		p := readResponse(t, br, 0)
		if p.Status != StatusError || !strings.Contains(p.Message, ErrMalformedFrame.Error()) {
			t.Fatalf("garbage %x: %+v, want a malformed-frame error", garbage, p)
		}
	}
	// The framing is intact, so the same connection still serves a valid request.
	req := FrameRequest{Op: FrameRangeProof, Root: d.Store().Head().Root, Start: merkle.Key{}}
	b, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFrame(c, b); err != nil {
		t.Fatal(err)
	}
	if p := readResponse(t, br, FrameRangeProof); p.Status != StatusOK || len(p.Proof) == 0 {
		t.Fatalf("valid request after garbage: %+v", p)
	}
}

func TestBinaryModeClosesOnOversizedFrame(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	sock := serveSocket(t, d)
	c, br := rawBinary(t, sock, FramePreamble(FrameVersion))
	if _, err := c.Write(binary.BigEndian.AppendUint32(nil, MaxFrameBytes+1)); err != nil {
		t.Fatal(err)
	}
	p := readResponse(t, br, 0)
	if p.Status != StatusError || !strings.Contains(p.Message, ErrFrameTooLarge.Error()) {
		t.Fatalf("oversized frame: %+v", p)
	}
	expectClosed(t, br)
}

// TestBinaryModeTruncatedFrameDoesNotHang: a client that dies inside a frame ends its handler
// (serveSocket's cleanup fails if ServeControl then cannot return).
func TestBinaryModeTruncatedFrameDoesNotHang(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	sock := serveSocket(t, d)
	c, _ := rawBinary(t, sock, FramePreamble(FrameVersion))
	if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, 100), 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// And a client that stops inside the preamble.
	c2, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c2.Write([]byte("HPF"))
	c2.Close()
	// JSON still works beside binary connections.
	var st StatusInfo
	if err := Call(sock, Request{Op: OpStatus}, &st); err != nil {
		t.Fatal(err)
	}
}

// TestProtoClientErrorsAndReconnect: statuses come back as their sentinels, idle pooled
// connections do not hold up the daemon's shutdown, and a client survives a daemon restart.
func TestProtoClientErrorsAndReconnect(t *testing.T) {
	store := t.TempDir()
	d := startDaemon(t, store, 0)
	sock := filepath.Join(t.TempDir(), "hpfsd.sock")
	stop := serveSocketAt(t, d, sock)

	pc := NewProtoClient(sock)
	defer pc.Close()
	bg := context.Background()
	head := d.Store().Head().Root
	if _, _, err := pc.RangeProof(bg, testHash(1), merkle.Key{}, nil, 0, 0); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("unknown root: %v, want ErrUnknownVersion", err)
	}
	proof, _, err := pc.RangeProof(bg, head, merkle.Key{}, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), proof...)
	bad[len(bad)-1] ^= 1
	if _, err := pc.ApplyProof(bg, KindRange, merkle.Hash{}, head, merkle.Key{}, nil, bad); !errors.Is(err, ErrProofRejected) {
		t.Fatalf("tampered proof: %v, want ErrProofRejected", err)
	}
	if _, _, fallback, err := pc.ChangeProof(bg, testHash(3), head, merkle.Key{}, nil, 0, 0); err != nil || !fallback {
		t.Fatalf("change proof from an unknown base: fallback %v, %v", fallback, err)
	}
	// The head is already a version: applying its proof or beginning a sync to it is Done.
	st, err := pc.ApplyProof(bg, KindRange, merkle.Hash{}, head, merkle.Key{}, nil, proof)
	if err != nil || !st.Done || st.Version.Root != head || st.Proved == nil || !st.Proved.Complete {
		t.Fatalf("apply of the head's proof: %+v, %v", st, err)
	}
	if st, err := pc.BeginSync(bg, head); err != nil || !st.Done {
		t.Fatalf("begin to the head: %+v, %v", st, err)
	}
	cctx, ccancel := context.WithCancel(bg)
	ccancel()
	if _, err := pc.BeginSync(cctx, head); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}

	// Shut the daemon's socket down with the client's connections idle in its pool.
	if err := stop(); err != nil {
		t.Fatalf("with idle binary connections: %v", err)
	}
	defer serveSocketAt(t, d, sock)()
	if st, err := pc.BeginSync(bg, head); err != nil || !st.Done {
		t.Fatalf("after a restart of the socket: %+v, %v", st, err)
	}
}
