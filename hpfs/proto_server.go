package hpfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/hpfs/hpnode/merkle"
)

// serveBinary answers binary-mode frames on conn until the client closes it, a frame cannot be
// read, or ctx is done. br holds what was read of conn so far (the preamble first).
func (d *Daemon) serveBinary(ctx context.Context, conn net.Conn, br *bufio.Reader) {
	// An idle pooled connection must not hold the daemon's shutdown (ServeControl waits for
	// every connection).
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	pre := make([]byte, len(frameMagic)+1)
	if _, err := io.ReadFull(br, pre); err != nil {
		d.log.Debug("control: binary preamble", "err", err)
		return
	}
	if err := checkPreamble(pre); err != nil {
		d.replyFrame(conn, 0, errorResponse(err))
		return
	}
	// buf is the connection's request buffer, reused from frame to frame: nothing a handler
	// keeps aliases it (keys are copied by the decoder, proofs by merkle's decoder).
	var buf []byte
	// sc is the connection's proof arena, reused likewise: a proof's leaves are written to
	// conn (replyFrame) before the next frame is read.
	var sc proofScratch
	// shared is the connection's shared region (op share), unmapped when the connection ends:
	// nothing a handler keeps aliases it either.
	var shared []byte
	defer func() { unmapShared(shared) }()
	for {
		body, err := readFrameInto(br, buf, MaxFrameBytes)
		if err != nil {
			if errors.Is(err, ErrFrameTooLarge) {
				// The stream cannot be resynchronised after an unread body: say why and close.
				d.replyFrame(conn, 0, errorResponse(err))
			} else if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				d.log.Debug("control: read frame", "err", err)
			}
			return
		}
		if cap(body) <= maxKeptFrameBuffer {
			buf = body
		}
		var req FrameRequest
		var resp *FrameResponse
		if err := req.UnmarshalBinary(body); err != nil {
			resp = errorResponse(fmt.Errorf("decode request: %w", err))
		} else if req.Op == FrameShare {
			if err := d.replyShare(conn, &req, &shared); err != nil {
				d.log.Debug("control: share", "err", err)
				return
			}
			continue
		} else {
			resp = d.handleFrame(&req, &sc, shared)
		}
		if err := d.replyFrame(conn, req.Op, resp); err != nil {
			d.log.Debug("control: write frame", "op", req.Op, "err", err)
			return
		}
	}
}

// maxKeptFrameBuffer bounds the request buffer a connection keeps between frames.
const maxKeptFrameBuffer = 32 << 20

// replyFrame writes resp as the answer to a request of op (error responses need no op).
func (d *Daemon) replyFrame(w io.Writer, op FrameOp, resp *FrameResponse) error {
	head, err := resp.appendHead(op, make([]byte, 0, 64))
	if err != nil {
		resp = errorResponse(fmt.Errorf("encode response: %w", err))
		head, _ = resp.appendHead(op, nil)
	}
	if resp.Status == StatusOK && (op == FrameRangeProof || op == FrameChangeProof) && !resp.Shared {
		if resp.proofParts != nil {
			// The proof's leaves go from where the proof holds them straight to the socket.
			return writeFrame(w, append([][]byte{head}, resp.proofParts...)...)
		}
		return writeFrame(w, head, resp.Proof)
	}
	return writeFrame(w, head)
}

// handleFrame executes one decoded binary request.
// A proof's leaves lie in sc's arena: resp must be written before sc's next use. shared is the
// connection's shared region (nil: none): a proof asked for there is copied into it when it
// fits, and an apply-proof's proof may lie in it.
func (d *Daemon) handleFrame(req *FrameRequest, sc *proofScratch, shared []byte) *FrameResponse {
	var resp FrameResponse
	var err error
	switch req.Op {
	case FrameRangeProof:
		var p *merkle.RangeProof
		if p, err = d.rangeProof(sc, req.Root, req.Start, req.End, int(req.MaxEntries), int(req.MaxBytes)); err == nil {
			resp.proofParts, resp.End = rangeProofParts(p), p.End
		}
		resp.shareProof(req, shared)
	case FrameChangeProof:
		var p *merkle.ChangeProof
		if p, err = d.changeProof(sc, req.Base, req.Root, req.Start, req.End, int(req.MaxEntries), int(req.MaxBytes)); err == nil {
			resp.proofParts, resp.End, resp.Fallback = changeProofParts(p), p.End, p.Fallback
		}
		resp.shareProof(req, shared)
	case FrameApplyProof:
		proof := req.Proof
		if req.Shared {
			if proof, err = sharedProof(shared, req); err != nil {
				break
			}
		}
		resp.Sync, err = d.ApplyProof(req.Kind, req.Base, req.Root, req.Start, req.End, proof)
	case FrameSyncBegin:
		resp.Sync, err = d.BeginSync(req.Root)
	default:
		err = fmt.Errorf("%w: unknown %s", ErrMalformedFrame, req.Op)
	}
	if err != nil {
		return errorResponse(err)
	}
	return &resp
}

// shareProof moves a built proof into the shared region when the request asked for it and it
// fits there; otherwise it goes in the frame.
func (p *FrameResponse) shareProof(req *FrameRequest, shared []byte) {
	if !req.Shared || p.proofParts == nil {
		return
	}
	if n, ok := putShared(shared, req.SharedOff, p.proofParts); ok {
		p.Shared, p.SharedLen, p.proofParts = true, n, nil
	}
}
