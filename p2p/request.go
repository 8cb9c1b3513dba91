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
	frame := requestFrame(ctx, kind, body)
	if resp, ok, err := p.requestOnLane(ctx, kind, frame, dst, maxResp); ok {
		return resp, err
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
	if _, err := str.Write(frame); err != nil {
		return nil, fmt.Errorf("write request: %w", err)
	}
	str.Close()
	p.n.met.MessageOut(p.id, kind, len(frame))
	return p.readResponse(str, str.CancelRead, kind, dst, maxResp)
}

// requestFrame is the frame of a request of kind whose requester waits until ctx's deadline
// (defaultRequestTimeout without one). The requester resets or drops the request when ctx
// ends, so its transport needs no deadline of its own: the error the caller sees is ctx's.
func requestFrame(ctx context.Context, kind Kind, body []byte) []byte {
	timeout := defaultRequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	r := request{Kind: kind, TimeoutMs: uint32(min(max(timeout.Milliseconds(), 1), 1<<31)), Body: body}
	return appendFrame(nil, r.encode())
}

// readResponse reads the response to a request of kind from r: its header frame, then its
// body, into dst when it fits. Whenever it returns with the response malformed or its body
// unread, it first calls abort with the code to reset the stream with.
func (p *peer) readResponse(r io.Reader, abort func(quic.StreamErrorCode), kind Kind, dst []byte, maxResp int) ([]byte, error) {
	hb, err := readFrame(r, 64)
	if err != nil {
		return nil, fmt.Errorf("read response header: %w", err)
	}
	k, d, err := splitBody(hb)
	if err == nil && k != kindResponse {
		err = fmt.Errorf("%w: kind %d, want response", ErrMalformed, k)
	}
	if err != nil {
		abort(codeStreamBad)
		return nil, err
	}
	h, err := decodeResponseHeader(d)
	if err != nil {
		abort(codeStreamBad)
		return nil, err
	}
	switch h.Status {
	case respOK:
	case respNoHandler:
		return nil, ErrNoHandler
	case respTooLarge:
		return nil, fmt.Errorf("%w: peer's response exceeded its own bound", ErrResponseTooLarge)
	case respError, respRefused:
		if h.Length > maxRespErrLen {
			abort(codeStreamBad)
			return nil, fmt.Errorf("%w: error text of %d bytes", ErrMalformed, h.Length)
		}
		msg := make([]byte, h.Length)
		if _, err := io.ReadFull(r, msg); err != nil {
			return nil, fmt.Errorf("read error text: %w", err)
		}
		if h.Status == respRefused {
			abort(codeStreamBad) // the server closes what carried the request
			return nil, fmt.Errorf("%w: peer refused the request: %s", ErrMalformed, msg)
		}
		return nil, fmt.Errorf("%w: %s", ErrRemote, msg)
	default:
		abort(codeStreamBad)
		return nil, fmt.Errorf("%w: response status %d", ErrMalformed, h.Status)
	}
	if h.Length > uint64(maxResp) {
		abort(codeCancelled)
		return nil, fmt.Errorf("%w: %d bytes, bound %d", ErrResponseTooLarge, h.Length, maxResp)
	}
	resp := dst[:0]
	if uint64(cap(dst)) < h.Length {
		resp = make([]byte, h.Length)
	}
	resp = resp[:h.Length]
	if _, err := io.ReadFull(r, resp); err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	p.n.met.MessageIn(p.id, kind, len(hb)+4+len(resp))
	return resp, nil
}

// serveRequest answers one request stream opened by the peer.
func (p *peer) serveRequest(str *quic.Stream) {
	str.SetPriority(urgencyBulk, true)
	str.SetReadDeadline(time.Now().Add(p.n.cfg.HandshakeTimeout))
	r, err := p.readRequest(str)
	if err != nil {
		str.CancelRead(codeStreamBad)
		str.CancelWrite(codeStreamBad)
		return
	}
	ctx, cancel := p.requestContext(r)
	defer cancel()
	stop := context.AfterFunc(str.Context(), cancel) // requester reset the stream
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		str.SetWriteDeadline(dl)
	}
	status, resp, release := p.answer(ctx, r)
	if release != nil {
		// Safe once respond returned: quic-go's Write returns only after copying every byte
		// it will send into its own frames, and sends nothing more of p after a reset or a
		// shutdown (v0.65's SendStream.write and popNewStreamFrameForPacket).
		defer release()
	}
	if ctx.Err() != nil {
		str.CancelWrite(codeCancelled)
		return
	}
	if p.respond(str, r.Kind, status, resp) == nil {
		str.Close()
	}
}

// readRequest reads one request frame from r and decodes it, charging its bytes to the peer.
// A frame over the bound or malformed counts as bad input. An error means there is no request
// to answer: the stream or lane must be dropped.
func (p *peer) readRequest(r io.Reader) (request, error) {
	body, err := readFrame(r, p.n.cfg.MaxRequestSize+frameOverhead)
	if err != nil {
		if errors.Is(err, ErrFrameTooLarge) {
			p.bad(kindRequest, err)
		}
		return request{}, err
	}
	if !p.lim.allowBytes(len(body)+4, p.n.cfg.Now()) {
		p.cutOff(fmt.Sprintf("more than %d bytes/min", p.n.cfg.BytesPerMinute))
		return request{}, fmt.Errorf("%w: over %d bytes/min", ErrTooLarge, p.n.cfg.BytesPerMinute)
	}
	k, d, err := splitBody(body)
	if err == nil && k != kindRequest {
		err = fmt.Errorf("%w: kind %d on a request stream", ErrMalformed, k)
	}
	var req request
	if err == nil {
		req, err = decodeRequest(d, p.n.cfg.MaxRequestSize)
	}
	if err != nil {
		p.bad(kindRequest, err)
		return request{}, err
	}
	p.n.met.MessageIn(p.id, req.Kind, len(body)+4)
	return req, nil
}

// requestContext is the context a handler of r runs under. The requester enforces its own
// deadline; the server's runs a little later so the requester sees its own context's error,
// not a reset.
func (p *peer) requestContext(r request) (context.Context, context.CancelFunc) {
	timeout := min(time.Duration(r.TimeoutMs)*time.Millisecond, maxRequestTimeout)
	return context.WithTimeout(p.ctx, timeout+requestSlack)
}

// answer runs the handler of r's kind and returns the response to send. release, when not
// nil, must be called once the response is written or dropped.
func (p *peer) answer(ctx context.Context, r request) (status uint8, resp []byte, release func()) {
	p.n.hmu.RLock()
	h := p.n.reqHandlers[r.Kind]
	p.n.hmu.RUnlock()
	if h == nil {
		p.n.met.Dropped(p.id, r.Kind, "no-handler")
		return respNoHandler, nil, nil
	}
	resp, release, err := h(ctx, p.id, r.Body)
	switch {
	case err != nil:
		return respError, []byte(truncateN(err.Error(), maxRespErrLen)), release
	case len(resp) > p.n.cfg.MaxResponseSize:
		p.n.log.Warn("p2p: response over bound not sent", "peer", p.id, "kind", r.Kind, "bytes", len(resp), "bound", p.n.cfg.MaxResponseSize)
		return respTooLarge, nil, release
	}
	return respOK, resp, release
}

// respond writes a response (header frame, then body) to w.
func (p *peer) respond(w io.Writer, kind Kind, status uint8, body []byte) error {
	h := responseHeader{Status: status, Length: uint64(len(body))}
	hdr := appendFrame(nil, h.encode())
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	p.n.met.MessageOut(p.id, kind, len(hdr)+len(body))
	return nil
}

func truncateN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
