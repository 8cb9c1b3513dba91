package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quic-go/quic-go"
)

// RequestHandler answers one request. ctx ends at the requester's deadline,
// when the requester cancels, or when the connection closes. The returned
// bytes are the response body (at most Config.MaxResponseSize); an error is
// sent back as its text.
type RequestHandler func(ctx context.Context, from PeerID, req []byte) ([]byte, error)

// ReleasingHandler is a RequestHandler whose response lies in memory the handler wants back
// (a buffer it recycles, a mapping it shares): the node calls release, when not nil, once the
// response has been written to the stream or will never be, and never touches the response
// after that. An error response is sent as its text; release is still called.
type ReleasingHandler func(ctx context.Context, from PeerID, req []byte) (resp []byte, release func(), err error)

// Request errors callers branch on.
var (
	ErrResponseTooLarge = errors.New("p2p: response exceeds the requester's bound")
	ErrNoHandler        = errors.New("p2p: peer has no handler for this request kind")
	ErrRemote           = errors.New("p2p: peer's handler failed")
)

// defaultRequestTimeout applies when the requester's context has no
// deadline: a server never holds a request open forever.
const defaultRequestTimeout = time.Minute

// maxRequestTimeout caps the time a requester may ask a server to spend on
// one request.
const maxRequestTimeout = 5 * time.Minute

// requestSlack is how much longer a server lets a handler run than the
// requester's remaining time.
const requestSlack = 250 * time.Millisecond

// HandleRequest registers h for requests of kind, replacing any earlier one.
func (n *Node) HandleRequest(kind Kind, h RequestHandler) {
	n.HandleRequestReleasing(kind, func(ctx context.Context, from PeerID, req []byte) ([]byte, func(), error) {
		resp, err := h(ctx, from, req)
		return resp, nil, err
	})
}

// HandleRequestReleasing registers h for requests of kind, replacing any earlier handler.
func (n *Node) HandleRequestReleasing(kind Kind, h ReleasingHandler) {
	n.hmu.Lock()
	n.reqHandlers[kind] = h
	n.hmu.Unlock()
}

// Request sends req to a connected peer on a new stream and returns its
// response, which must be at most maxResp bytes. The stream runs at bulk
// priority, below consensus messages. Cancelling ctx resets the stream, and
// the peer's handler sees its context cancelled.
func (n *Node) Request(ctx context.Context, to PeerID, kind Kind, req []byte, maxResp int) ([]byte, error) {
	return n.RequestInto(ctx, to, kind, req, nil, maxResp)
}

// RequestInto is Request reading the response into dst when it fits
// (cap(dst) >= response length), so a caller moving many large responses
// reuses one buffer instead of allocating (and page-faulting) each.
func (n *Node) RequestInto(ctx context.Context, to PeerID, kind Kind, req, dst []byte, maxResp int) ([]byte, error) {
	p := n.peer(to)
	if p == nil {
		return nil, fmt.Errorf("request to %s: %w", to, ErrNotConnected)
	}
	resp, err := p.request(ctx, kind, req, dst, maxResp)
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, fmt.Errorf("request kind %d to %s: %w", kind, to, err)
	}
	return resp, nil
}

func (p *peer) request(ctx context.Context, kind Kind, body, dst []byte, maxResp int) ([]byte, error) {
	if len(body) > p.n.cfg.MaxRequestSize {
		return nil, fmt.Errorf("%w: request of %d bytes, bound %d", ErrTooLarge, len(body), p.n.cfg.MaxRequestSize)
	}
	str, err := p.conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	str.SetPriority(urgencyBulk, true)
	stop := context.AfterFunc(ctx, func() {
		str.CancelRead(codeCancelled)
		str.CancelWrite(codeCancelled)
	})
	defer stop()
	timeout := defaultRequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		// The stream is reset by the AfterFunc above when ctx ends; no
		// stream deadline, so the error the caller sees is ctx's.
		timeout = time.Until(dl)
	}
	r := request{Kind: kind, TimeoutMs: uint32(min(max(timeout.Milliseconds(), 1), 1<<31)), Body: body}
	frame := appendFrame(nil, r.encode())
	if _, err := str.Write(frame); err != nil {
		return nil, fmt.Errorf("write request: %w", err)
	}
	str.Close()
	p.n.met.MessageOut(p.id, kind, len(frame))
	hb, err := readFrame(str, 64)
	if err != nil {
		return nil, fmt.Errorf("read response header: %w", err)
	}
	k, d, err := splitBody(hb)
	if err == nil && k != kindResponse {
		err = fmt.Errorf("%w: kind %d, want response", ErrMalformed, k)
	}
	if err != nil {
		str.CancelRead(codeStreamBad)
		return nil, err
	}
	h, err := decodeResponseHeader(d)
	if err != nil {
		str.CancelRead(codeStreamBad)
		return nil, err
	}
	switch h.Status {
	case respOK:
	case respNoHandler:
		return nil, ErrNoHandler
	case respTooLarge:
		return nil, fmt.Errorf("%w: peer's response exceeded its own bound", ErrResponseTooLarge)
	case respError:
		if h.Length > maxRespErrLen {
			str.CancelRead(codeStreamBad)
			return nil, fmt.Errorf("%w: error text of %d bytes", ErrMalformed, h.Length)
		}
		msg := make([]byte, h.Length)
		if _, err := io.ReadFull(str, msg); err != nil {
			return nil, fmt.Errorf("read error text: %w", err)
		}
		return nil, fmt.Errorf("%w: %s", ErrRemote, msg)
	default:
		str.CancelRead(codeStreamBad)
		return nil, fmt.Errorf("%w: response status %d", ErrMalformed, h.Status)
	}
	if h.Length > uint64(maxResp) {
		str.CancelRead(codeCancelled)
		return nil, fmt.Errorf("%w: %d bytes, bound %d", ErrResponseTooLarge, h.Length, maxResp)
	}
	resp := dst[:0]
	if uint64(cap(dst)) < h.Length {
		resp = make([]byte, h.Length)
	}
	resp = resp[:h.Length]
	if _, err := io.ReadFull(str, resp); err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	p.n.met.MessageIn(p.id, kind, len(hb)+4+len(resp))
	return resp, nil
}

// serveRequest answers one request stream opened by the peer.
func (p *peer) serveRequest(str *quic.Stream) {
	str.SetPriority(urgencyBulk, true)
	str.SetReadDeadline(time.Now().Add(p.n.cfg.HandshakeTimeout))
	body, err := readFrame(str, p.n.cfg.MaxRequestSize+frameOverhead)
	if err != nil {
		str.CancelRead(codeStreamBad)
		str.CancelWrite(codeStreamBad)
		if errors.Is(err, ErrFrameTooLarge) {
			p.bad(kindRequest, err)
		}
		return
	}
	if !p.lim.allowBytes(len(body)+4, p.n.cfg.Now()) {
		p.cutOff(fmt.Sprintf("more than %d bytes/min", p.n.cfg.BytesPerMinute))
		return
	}
	k, d, err := splitBody(body)
	if err == nil && k != kindRequest {
		err = fmt.Errorf("%w: kind %d on a request stream", ErrMalformed, k)
	}
	var r request
	if err == nil {
		r, err = decodeRequest(d, p.n.cfg.MaxRequestSize)
	}
	if err != nil {
		p.bad(kindRequest, err)
		str.CancelRead(codeStreamBad)
		str.CancelWrite(codeStreamBad)
		return
	}
	p.n.met.MessageIn(p.id, r.Kind, len(body)+4)
	p.n.hmu.RLock()
	h := p.n.reqHandlers[r.Kind]
	p.n.hmu.RUnlock()
	if h == nil {
		p.n.met.Dropped(p.id, r.Kind, "no-handler")
		p.respond(str, r.Kind, respNoHandler, nil)
		return
	}
	// The requester enforces its own deadline; the server's runs a little
	// later so the requester sees its own context's error, not a reset.
	timeout := min(time.Duration(r.TimeoutMs)*time.Millisecond, maxRequestTimeout)
	ctx, cancel := context.WithTimeout(p.ctx, timeout+requestSlack)
	defer cancel()
	stop := context.AfterFunc(str.Context(), cancel) // requester reset the stream
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		str.SetWriteDeadline(dl)
	}
	resp, release, err := h(ctx, p.id, r.Body)
	if release != nil {
		// Safe once respond returned: quic-go's Write returns only after copying every byte
		// it will send into its own frames, and sends nothing more of p after a reset or a
		// shutdown (v0.65's SendStream.write and popNewStreamFrameForPacket).
		defer release()
	}
	switch {
	case ctx.Err() != nil:
		str.CancelWrite(codeCancelled)
	case err != nil:
		p.respond(str, r.Kind, respError, []byte(truncateN(err.Error(), maxRespErrLen)))
	case len(resp) > p.n.cfg.MaxResponseSize:
		p.n.log.Warn("p2p: response over bound not sent", "peer", p.id, "kind", r.Kind, "bytes", len(resp), "bound", p.n.cfg.MaxResponseSize)
		p.respond(str, r.Kind, respTooLarge, nil)
	default:
		p.respond(str, r.Kind, respOK, resp)
	}
}

func (p *peer) respond(str *quic.Stream, kind Kind, status uint8, body []byte) {
	h := responseHeader{Status: status, Length: uint64(len(body))}
	hdr := appendFrame(nil, h.encode())
	if _, err := str.Write(hdr); err != nil {
		return
	}
	if _, err := str.Write(body); err != nil {
		return
	}
	str.Close()
	p.n.met.MessageOut(p.id, kind, len(hdr)+len(body))
}

func truncateN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
