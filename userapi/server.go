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

// Close reasons sent in the websocket close frame when the server ends a session. Each is a
// stable string a client or an operator can match.
const (
	CloseHandshakeTimeout = "handshake_timeout"     // 1008: no valid challenge response in time
	CloseBadHandshake     = "bad_handshake"         // 1008: malformed user_challenge_response
	CloseBadChallengeSig  = "bad_challenge_sig"     // 1008: the challenge signature does not verify
	CloseDuplicateUser    = "duplicate_user"        // 1008: this key already has a session here
	CloseMaxConnections   = "max_connections"       // 1013: Config.MaxConnections reached
	CloseTooManyBadMsgs   = "too_many_bad_messages" // 1008: Config.MaxBadMsgsPerMin exceeded
	CloseSendQueueFull    = "send_queue_full"       // 1008: the client does not read fast enough
	CloseServerShutdown   = "server_shutdown"       // 1001: the node is stopping
	CloseInternal         = "internal_error"        // 1011: the Backend failed the handshake
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
	conns    int // sessions counted against MaxConnections, handshaking included
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
		cfg:   cfg,
		b:     b,
		log:   cfg.Logger.With("component", "userapi"),
		pub:   cfg.NodeKey.Public().(ed25519.PublicKey),
		reads: make(chan struct{}, cfg.ConcurrentReads),
		users: make(map[string]*session),
		all:   make(map[*session]struct{}),
	}, nil
}

// Serve accepts wss connections on ln until ctx is done, then closes every session (status 1001)
// and returns once all of them have ended. It returns nil after a shutdown by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	cancelSub := s.b.Subscribe(s.dispatch)
	defer cancelSub()

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
	over := s.cfg.MaxConnections > 0 && s.conns >= s.cfg.MaxConnections
	stopping := s.stopping
	if !over && !stopping {
		s.conns++
		s.all[ss] = struct{}{}
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if stopping || over {
		ss.cancel()
	}
	switch {
	case stopping:
		_ = ss.c.Close(websocket.StatusGoingAway, CloseServerShutdown)
		return false
	case over:
		s.log.Info("user connection refused", "remote", ss.remote, "reason", CloseMaxConnections)
		_ = ss.c.Close(websocket.StatusTryAgainLater, CloseMaxConnections)
		return false
	}
	return true
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

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("http", "msg", string(p))
	return len(p), nil
}
