package statesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

// ServerConfig bounds the work one Server does for its peers. Zero fields take the defaults.
type ServerConfig struct {
	// MaxEntries and MaxBytes cap one proof whatever the request asks (defaults 100,000 and
	// 8 MiB); requests asking for less get less.
	MaxEntries int
	MaxBytes   int
	// MaxConcurrent caps proofs built at once across all peers (default 4). A request that
	// cannot start within BusyWait gets CodeBusy at once, so the client asks elsewhere.
	MaxConcurrent int
	BusyWait      time.Duration
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.MaxEntries <= 0 {
		c.MaxEntries = 100_000
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 8 << 20
	}
	c.MaxBytes = min(c.MaxBytes, MaxProofBytes/2)
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 4
	}
	if c.BusyWait <= 0 {
		c.BusyWait = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server answers state-sync requests from a ProofSource. Every request gets an explicit answer:
// a proof, a NACK naming roots it does have, or an error code.
type Server struct {
	src ProofSource
	cfg ServerConfig
	sem chan struct{}
}

// NewServer returns a server over src.
func NewServer(src ProofSource, cfg ServerConfig) *Server {
	cfg = cfg.withDefaults()
	return &Server{src: src, cfg: cfg, sem: make(chan struct{}, cfg.MaxConcurrent)}
}

// Register installs the server as n's handler for KindStateSync. The response is encoded where
// the source built the proof (Proof.Buf) and the source gets that memory back once p2p has
// sent it (Proof.Release).
func (s *Server) Register(n *p2p.Node) { n.HandleRequestReleasing(KindStateSync, s.HandleReleasing) }

// HandleReleasing is a p2p.ReleasingHandler: the response may lie in the source's memory,
// given back by release. It returns an error only if the response cannot be encoded.
func (s *Server) HandleReleasing(ctx context.Context, from p2p.PeerID, body []byte) ([]byte, func(), error) {
	resp, release := s.serve(ctx, from, body)
	b, err := resp.MarshalBinary()
	if err != nil {
		return nil, release, fmt.Errorf("encode state-sync response: %w", err)
	}
	return b, release, nil
}

// Handle is a p2p.RequestHandler: HandleReleasing with the response copied out of the
// source's memory when it lies there.
func (s *Server) Handle(ctx context.Context, from p2p.PeerID, body []byte) ([]byte, error) {
	b, release, err := s.HandleReleasing(ctx, from, body)
	if release != nil {
		b = bytes.Clone(b)
		release()
	}
	return b, err
}

// serve answers one request; release (nil: nothing) gives back the memory the response's proof
// lies in.
func (s *Server) serve(ctx context.Context, from p2p.PeerID, body []byte) (Response, func()) {
	var p Proof
	resp := s.answer(ctx, from, body, &p)
	return resp, p.Release
}

// answer builds the response to body; the proof it carries, if any, is *p.
func (s *Server) answer(ctx context.Context, from p2p.PeerID, body []byte, p *Proof) Response {
	var req Request
	if err := req.UnmarshalBinary(body); err != nil {
		s.cfg.Logger.Debug("statesync: bad request", "peer", from, "err", err)
		return errorResponse(CodeBadRequest, err)
	}
	wait := time.NewTimer(s.cfg.BusyWait)
	defer wait.Stop()
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-wait.C:
		return errorResponse(CodeBusy, errors.New("proof limit reached"))
	case <-ctx.Done():
		return errorResponse(CodeBusy, ctx.Err())
	}
	maxEntries, maxBytes := s.cfg.MaxEntries, s.cfg.MaxBytes
	if req.MaxEntries > 0 {
		maxEntries = min(maxEntries, int(req.MaxEntries))
	}
	if req.MaxBytes > 0 {
		maxBytes = min(maxBytes, int(req.MaxBytes))
	}
	var err error
	if req.Kind == ProofChange {
		*p, err = s.src.ChangeProof(ctx, req.Base, req.Root, req.Start, req.End, maxEntries, maxBytes)
	} else {
		*p, err = s.src.RangeProof(ctx, req.Root, req.Start, req.End, maxEntries, maxBytes)
	}
	if errors.Is(err, ErrUnknownRoot) {
		roots, rerr := s.src.Roots(ctx)
		if rerr != nil {
			roots = nil
		}
		return Response{Status: StatusNack, Roots: roots[:min(len(roots), MaxNackRoots)]}
	}
	if err != nil {
		s.cfg.Logger.Warn("statesync: proof failed", "peer", from, "kind", req.Kind, "root", hex8(req.Root), "err", err)
		return errorResponse(CodeInternal, err)
	}
	resp := Response{Status: StatusOK, Kind: p.Kind, Proof: p.Bytes, buf: p.Buf}
	if req.Hints > 0 && !sameEnd(p.End, req.End) {
		hints, totals, err := s.src.SplitKeys(ctx, req.Root, p.End, req.End, int(req.Hints))
		if err != nil {
			// Hints are an optimisation; the proof is still worth sending.
			s.cfg.Logger.Debug("statesync: split keys", "root", hex8(req.Root), "err", err)
		} else {
			resp.Hints, resp.Totals = hints, totals
		}
	}
	return resp
}

func errorResponse(code ErrCode, err error) Response {
	return Response{Status: StatusError, Code: code, Message: err.Error()}
}

// sameEnd compares end keys, nil (end of key space) being distinct from every key.
func sameEnd(a, b merkle.Key) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return bytes.Equal(a, b)
}
