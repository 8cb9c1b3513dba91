package userapi

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Server serves the user protocol. Create it with New and run it with Serve.
type Server struct {
	cfg   Config
	b     Backend
	log   *slog.Logger
	pub   ed25519.PublicKey
	reads chan struct{} // node-wide read request slots

	mu       sync.Mutex
	users    map[string]*session // handshaken sessions by 32-byte user key
	all      map[*session]struct{}
	conns    int            // sessions counted against MaxConnections, handshaking included
	perHost  map[string]int // the same, by remote IP
	stopping bool
	wg       sync.WaitGroup // every session goroutine
}

// New checks cfg and returns a server backed by b.
func New(cfg Config, b Backend) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("userapi: nil Backend")
	}
	cfg = cfg.withDefaults()
	return &Server{
		cfg:     cfg,
		b:       b,
		log:     cfg.Logger.With("component", "userapi"),
		pub:     cfg.NodeKey.Public().(ed25519.PublicKey),
		reads:   make(chan struct{}, cfg.ConcurrentReads),
		users:   make(map[string]*session),
		all:     make(map[*session]struct{}),
		perHost: make(map[string]int),
	}, nil
}

// Serve accepts wss connections on ln until ctx is done, then closes every session (status 1001)
// and returns once all of them have ended. It returns nil after a shutdown by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if cancelSub := s.b.Subscribe(s.dispatch); cancelSub != nil {
		defer cancelSub()
	}

	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(tls.NewListener(ln, s.cfg.TLS)) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("userapi: serve: %w", err)
	}
	s.shutdown()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if err == nil {
		<-errc // http.ErrServerClosed once Shutdown has closed the listener
	}
	s.wg.Wait()
	return err
}

// shutdown stops new sessions and closes every session.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.stopping = true
	all := make([]*session, 0, len(s.all))
	for ss := range s.all {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.fail(websocket.StatusGoingAway, CloseServerShutdown)
	}
}

// Users is the number of handshaken sessions.
func (s *Server) Users() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

// ServeHTTP upgrades any GET path to a websocket session (HotPocket accepts any path).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Users authenticate by signature, not by origin; browsers on any origin may connect,
		// as they can with HotPocket.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	ss := newSession(r.Context(), s, c, r.RemoteAddr)
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ss.host = host
	} else {
		ss.host = r.RemoteAddr
	}
	if !s.admit(ss) {
		return
	}
	defer s.wg.Done()
	defer s.leave(ss)
	ss.run()
}

// admit counts ss against MaxConnections, or closes it with a reason.
func (s *Server) admit(ss *session) bool {
	s.mu.Lock()
	code, reason := websocket.StatusCode(0), ""
	switch {
	case s.stopping:
		code, reason = websocket.StatusGoingAway, CloseServerShutdown
	case s.cfg.MaxConnections > 0 && s.conns >= s.cfg.MaxConnections:
		code, reason = websocket.StatusTryAgainLater, CloseMaxConnections
	case s.cfg.MaxConnectionsPerHost > 0 && s.perHost[ss.host] >= s.cfg.MaxConnectionsPerHost:
		code, reason = websocket.StatusTryAgainLater, CloseMaxPerHost
	default:
		s.conns++
		s.perHost[ss.host]++
		s.all[ss] = struct{}{}
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if reason == "" {
		return true
	}
	ss.cancel()
	if code == websocket.StatusTryAgainLater {
		s.log.Info("user connection refused", "remote", ss.remote, "reason", reason)
	}
	_ = ss.c.Close(code, reason)
	return false
}

// register makes ss the session of its user, unless the user already has one.
func (s *Server) register(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(ss.user)
	if _, dup := s.users[k]; dup {
		return false
	}
	s.users[k] = ss
	return true
}

func (s *Server) leave(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns--
	if s.perHost[ss.host]--; s.perHost[ss.host] == 0 {
		delete(s.perHost, ss.host)
	}
	delete(s.all, ss)
	if ss.user != nil && s.users[string(ss.user)] == ss {
		delete(s.users, string(ss.user))
	}
}

func (s *Server) userSession(user ed25519.PublicKey) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[string(user)]
}

// dispatch routes one Backend event to the sessions it concerns. It never blocks: it only queues.
func (s *Server) dispatch(e Event) {
	switch e := e.(type) {
	case *InputStatus:
		if ss := s.userSession(e.User); ss != nil {
			ss.send(inputStatusMsg(e.InputHash, e.Accepted, e.Reason, e.Ledger))
		}
	case *RoundOutputs:
		if e.Tree == nil {
			s.log.Error("round outputs without a tree: not sent", "ledger", e.Ledger.Seq)
			return
		}
		for i, u := range e.Users {
			if len(u.Outputs) == 0 {
				continue
			}
			if ss := s.userSession(u.User); ss != nil {
				ss.send(pendingOutput{round: e, idx: i})
			}
		}
	case *LedgerCreated:
		s.broadcast(ChannelLedgerEvent, ledgerCreatedMsg(&e.Ledger))
	case *VoteStatusChanged:
		s.broadcast(ChannelLedgerEvent, voteStatusMsg(e.VoteStatus))
	case *UNLChanged:
		s.broadcast(ChannelUNLChange, unlChangeMsg(e.UNL))
	}
}

func (s *Server) broadcast(channel string, m doc) {
	s.mu.Lock()
	targets := make([]*session, 0, len(s.users))
	for _, ss := range s.users {
		if ss.subscribed(channel) {
			targets = append(targets, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range targets {
		ss.send(m)
	}
}

// slogWriter routes net/http's internal log lines (TLS handshake errors and the like) to slog.
type slogWriter struct{ l *slog.Logger }

// Write logs one net/http log line at debug level.
func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("http", "msg", string(p))
	return len(p), nil
}
