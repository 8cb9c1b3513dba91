package userapi

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/hpfs/hpnode/outtree"
)

// session is one websocket connection. Its goroutines: run (the handler goroutine: handshake,
// then the read loop), one writer, one closer, and one per in-flight read request; run waits for
// all of them. Everything it sends after the handshake goes through out, so a slow client only
// ever fills its own queue.
type session struct {
	s      *Server
	c      *websocket.Conn
	remote string
	host   string // remote IP, for MaxConnectionsPerHost

	ctx    context.Context // done once the session is ending
	cancel context.CancelFunc

	user  ed25519.PublicKey // set by the handshake, then immutable
	proto Protocol

	out       chan any      // doc or pendingOutput
	readSlots chan struct{} // this session's in-flight read requests
	subs      atomic.Uint32 // subscription bits
	wg        sync.WaitGroup

	closeMu     sync.Mutex
	closeSet    bool
	closeCode   websocket.StatusCode
	closeReason string

	badWindow  time.Time // read loop only
	badCount   int
	byteWindow time.Time // read loop only
	byteCount  int64
}

// pendingOutput is a contract_output built in the writer: collapsing the tree per user is
// work the Backend's event callback must not do.
type pendingOutput struct {
	round *RoundOutputs
	idx   int
}

const (
	subUNLChange uint32 = 1 << iota
	subLedgerEvent
	subHealthEvent
)

func newSession(parent context.Context, s *Server, c *websocket.Conn, remote string) *session {
	c.SetReadLimit(s.cfg.MaxMessageBytes)
	ctx, cancel := context.WithCancel(parent)
	return &session{
		s:         s,
		c:         c,
		remote:    remote,
		ctx:       ctx,
		cancel:    cancel,
		out:       make(chan any, s.cfg.SendQueue),
		readSlots: make(chan struct{}, s.cfg.ConcurrentReads),
	}
}

// fail ends the session with a close status; the first call wins.
func (ss *session) fail(code websocket.StatusCode, reason string) {
	ss.closeMu.Lock()
	if !ss.closeSet {
		ss.closeSet, ss.closeCode, ss.closeReason = true, code, reason
	}
	ss.closeMu.Unlock()
	ss.cancel()
}

func (ss *session) closeStatus() (websocket.StatusCode, string) {
	ss.closeMu.Lock()
	defer ss.closeMu.Unlock()
	if !ss.closeSet {
		return websocket.StatusGoingAway, CloseServerShutdown
	}
	return ss.closeCode, ss.closeReason
}

func (ss *session) run() {
	defer ss.wg.Wait()
	defer ss.fail(websocket.StatusNormalClosure, "")

	ss.wg.Add(1)
	go ss.closer()

	if !ss.handshake() {
		return
	}
	ss.s.log.Debug("user connected", "user", HexKey(ss.user)[:10], "protocol", ss.proto, "remote", ss.remote)
	ss.wg.Add(1)
	go ss.writer()
	if ss.s.cfg.PingInterval > 0 {
		ss.wg.Add(1)
		go ss.pinger()
	}
	ss.readLoop()
}

// pinger drops a session whose client stops answering websocket pings: without it a client that
// vanished (no FIN, no RST) would hold its key, and its reconnection would be refused as a
// duplicate until TCP gave up.
func (ss *session) pinger() {
	defer ss.wg.Done()
	d := ss.s.cfg.PingInterval
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ss.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(ss.ctx, d)
		err := ss.c.Ping(ctx)
		cancel()
		if err != nil {
			ss.fail(websocket.StatusGoingAway, ClosePingTimeout)
			return
		}
	}
}

// closer sends the close frame once the session ends. The read loop reads with a background
// context on purpose: cancelling a read would drop the connection without a reason.
func (ss *session) closer() {
	defer ss.wg.Done()
	<-ss.ctx.Done()
	code, reason := ss.closeStatus()
	switch reason {
	case "", CloseServerShutdown:
		ss.s.log.Debug("user session closed", "remote", ss.remote, "code", int(code), "reason", reason)
	default:
		ss.s.log.Info("user session closed", "remote", ss.remote, "code", int(code), "reason", reason)
	}
	if reason == CloseSendQueueFull || reason == ClosePingTimeout {
		// The client is not reading: a close frame would wait behind its backlog, holding the
		// session for the close handshake's 5 s. Drop it now.
		_ = ss.c.CloseNow()
		return
	}
	_ = ss.c.Close(code, reason)
}

// handshake runs reference §3.2: user_challenge, user_challenge_response, server_challenge_response.
func (ss *session) handshake() bool {
	timer := time.AfterFunc(ss.s.cfg.HandshakeTimeout, func() {
		ss.fail(websocket.StatusPolicyViolation, CloseHandshakeTimeout)
	})
	defer timer.Stop()

	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails
	challenge := hex.EncodeToString(nonce[:])
	cfg := &ss.s.cfg
	if !ss.writeNow(JSON, userChallengeMsg(cfg.HPVersion, cfg.ContractID, cfg.ContractVersion, challenge)) {
		return false
	}
	_, data, err := ss.c.Read(context.Background())
	if err != nil {
		ss.fail(websocket.StatusNormalClosure, "")
		return false
	}
	resp, err := decodeUserChallengeResponse(data)
	if err != nil {
		ss.fail(websocket.StatusPolicyViolation, CloseBadHandshake)
		return false
	}
	user, err := ParseWireKey(resp.PubKey)
	if err != nil {
		ss.fail(websocket.StatusPolicyViolation, CloseBadHandshake)
		return false
	}
	if !ed25519.Verify(user, []byte(challenge), resp.Sig) {
		ss.fail(websocket.StatusPolicyViolation, CloseBadChallengeSig)
		return false
	}
	if resp.HasServerChal && !validServerChallenge(resp.ServerChallenge) {
		ss.fail(websocket.StatusPolicyViolation, CloseBadHandshake)
		return false
	}
	// From here on the handshake has succeeded; only the Backend's UNL call and one write remain,
	// bounded by the session context rather than the handshake timer.
	if !timer.Stop() || ss.ctx.Err() != nil { // timed out or shut down meanwhile
		return false
	}
	ss.user, ss.proto = user, resp.Protocol
	if !ss.s.register(ss) {
		ss.user = nil // leave must not unregister the session that owns the key
		ss.fail(websocket.StatusPolicyViolation, CloseDuplicateUser)
		return false
	}
	if resp.HasServerChal {
		unl, err := ss.s.b.UNL(ss.ctx)
		if err != nil {
			ss.s.log.Error("user handshake: UNL", "err", err)
			ss.fail(websocket.StatusInternalError, CloseInternal)
			return false
		}
		sig := ed25519.Sign(cfg.NodeKey, []byte(resp.ServerChallenge+cfg.ContractID+cfg.ContractVersion))
		if !ss.writeNow(JSON, serverChallengeResponseMsg(sig, ss.s.pub, unl)) {
			return false
		}
	}
	return ss.ctx.Err() == nil
}

// validServerChallenge bounds what the node signs for a stranger: at most 32 printable ASCII
// bytes (the client sends 32 hex chars), always followed by the contract id and version. A
// 32-byte message, the only length an output root signature has, would need a challenge shorter
// than 32 bytes made of root bytes that are all printable: a 2^-100 chance per root, so the
// handshake cannot be used to obtain an output signature.
func validServerChallenge(c string) bool {
	if len(c) == 0 || len(c) > 32 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 0x21 || c[i] > 0x7e {
			return false
		}
	}
	return true
}

// writeNow writes m directly; only the handshake uses it, before the writer starts.
func (ss *session) writeNow(p Protocol, m doc) bool {
	b, err := encode(p, m)
	if err == nil {
		err = ss.c.Write(context.Background(), websocket.MessageBinary, b)
	}
	if err != nil {
		ss.fail(websocket.StatusNormalClosure, "")
		return false
	}
	return true
}

// send queues m for the writer without ever blocking; a full queue ends the session.
func (ss *session) send(m any) {
	select {
	case <-ss.ctx.Done():
	case ss.out <- m:
	default:
		ss.fail(websocket.StatusPolicyViolation, CloseSendQueueFull)
	}
}

func (ss *session) writer() {
	defer ss.wg.Done()
	for {
		select {
		case <-ss.ctx.Done():
			return
		case m := <-ss.out:
			d, ok := ss.build(m)
			if !ok {
				continue
			}
			b, err := encode(ss.proto, d)
			if err != nil {
				ss.s.log.Error("user message encode", "err", err)
				continue
			}
			// A background context: cancelling a write would drop the connection without a close
			// reason; the closer unblocks a stuck write by closing the connection.
			if err := ss.c.Write(context.Background(), websocket.MessageBinary, b); err != nil {
				ss.fail(websocket.StatusNormalClosure, "")
				return
			}
		}
	}
}

// build turns a queued item into a message.
func (ss *session) build(m any) (doc, bool) {
	switch m := m.(type) {
	case doc:
		return m, true
	case pendingOutput:
		r := m.round
		u := r.Users[m.idx]
		h := outtree.UserHash(u.User, u.Outputs)
		tree, err := r.Tree.Collapse(h)
		if err != nil {
			ss.s.log.Error("contract output not in the round's tree", "ledger", r.Ledger.Seq, "user", HexKey(u.User)[:10])
			return nil, false
		}
		return contractOutputMsg(r.Ledger, u.Outputs, h, tree, r.Sigs, ss.s.cfg.RawJSONOutputs), true
	}
	return nil, false
}

func (ss *session) subscribed(channel string) bool {
	var bit uint32
	switch channel {
	case ChannelUNLChange:
		bit = subUNLChange
	case ChannelLedgerEvent:
		bit = subLedgerEvent
	case ChannelHealthEvent:
		bit = subHealthEvent
	}
	return ss.subs.Load()&bit != 0
}

func (ss *session) readLoop() {
	var idle *time.Timer
	if d := ss.s.cfg.IdleTimeout; d > 0 {
		idle = time.AfterFunc(d, func() { ss.fail(websocket.StatusPolicyViolation, CloseIdleTimeout) })
		defer idle.Stop()
	}
	for {
		_, data, err := ss.c.Read(context.Background())
		if idle != nil {
			idle.Reset(ss.s.cfg.IdleTimeout)
		}
		if err != nil {
			ss.fail(websocket.StatusNormalClosure, "")
			return
		}
		if ss.ctx.Err() != nil {
			return
		}
		if !ss.countBytes(len(data)) {
			return
		}
		ss.handle(data)
	}
}

// countBytes counts a message against MaxBytesPerMin and ends the session past it.
func (ss *session) countBytes(n int) bool {
	limit := ss.s.cfg.MaxBytesPerMin
	if limit == 0 {
		return true
	}
	now := time.Now()
	if now.Sub(ss.byteWindow) >= time.Minute {
		ss.byteWindow, ss.byteCount = now, 0
	}
	ss.byteCount += int64(n)
	if ss.byteCount > limit {
		ss.fail(websocket.StatusPolicyViolation, CloseTooManyBytes)
		return false
	}
	return true
}

// badMessage counts one abusive message against MaxBadMsgsPerMin.
func (ss *session) badMessage() {
	limit := ss.s.cfg.MaxBadMsgsPerMin
	if limit == 0 {
		return
	}
	now := time.Now()
	if now.Sub(ss.badWindow) >= time.Minute {
		ss.badWindow, ss.badCount = now, 0
	}
	ss.badCount++
	if ss.badCount > limit {
		ss.fail(websocket.StatusPolicyViolation, CloseTooManyBadMsgs)
	}
}

func (ss *session) handle(data []byte) {
	m, err := decodeClientMsg(ss.proto, data)
	if err != nil {
		reason := ReasonBadMsgFormat
		if errors.Is(err, errUnknownType) {
			reason = ReasonInvalidMsgType
		}
		ss.send(rejectedNoHash(reason))
		ss.badMessage()
		return
	}
	switch m.Type {
	case msgContractInput:
		ss.handleInput(m)
	case msgReadRequest:
		ss.handleRead(m)
	case msgStat:
		st, err := ss.s.b.Stat(ss.ctx)
		if err != nil {
			ss.s.log.Warn("stat", "err", err)
			return
		}
		if st.HPVersion == "" {
			st.HPVersion = ss.s.cfg.HPVersion
		}
		ss.send(statResponseMsg(st))
	case msgLCL:
		l, err := ss.s.b.LCL(ss.ctx)
		if err != nil {
			ss.s.log.Warn("lcl", "err", err)
			return
		}
		ss.send(lclResponseMsg(l))
	case msgSubscription:
		var bit uint32
		switch m.Channel {
		case ChannelUNLChange:
			bit = subUNLChange
		case ChannelLedgerEvent:
			bit = subLedgerEvent
		case ChannelHealthEvent:
			bit = subHealthEvent // accepted; hpnode, like HotPocket, emits no health events
		default:
			ss.send(rejectedNoHash(ReasonBadMsgFormat))
			ss.badMessage()
			return
		}
		for {
			old := ss.subs.Load()
			next := old &^ bit
			if m.Enabled {
				next = old | bit
			}
			if ss.subs.CompareAndSwap(old, next) {
				break
			}
		}
	case msgLedgerQuery:
		l, err := ss.s.b.LedgerBySeq(ss.ctx, ss.user, m.Seq, m.IncludeInputs, m.IncludeOutputs)
		if err != nil {
			ss.s.log.Warn("ledger query", "seq", m.Seq, "err", err)
		}
		if l != nil {
			cp := *l
			cp.HasInputs, cp.HasOutputs = m.IncludeInputs, m.IncludeOutputs
			l = &cp
		}
		ss.send(ledgerQueryResultMsg(m.ID, l, err != nil, ss.s.cfg.RawJSONOutputs))
	}
}

func (ss *session) handleInput(m clientMsg) {
	if m.Sig == nil {
		ss.send(rejectedNoHash(ReasonBadSig))
		ss.badMessage()
		return
	}
	hash := InputHash(m.Sig)
	if !ed25519.Verify(ss.user, m.Container, m.Sig) {
		ss.send(inputStatusMsg(hash, false, ReasonBadSig, LedgerID{}))
		ss.badMessage()
		return
	}
	ic, err := decodeInputContainer(ss.proto, m.Container)
	if err != nil {
		ss.send(inputStatusMsg(hash, false, ReasonBadMsgFormat, LedgerID{}))
		ss.badMessage()
		return
	}
	err = ss.s.b.SubmitInput(ss.ctx, Input{
		User:         ss.user,
		Protocol:     ss.proto,
		Container:    m.Container,
		Sig:          m.Sig,
		Hash:         hash,
		Data:         ic.Data,
		Nonce:        ic.Nonce,
		MaxLedgerSeq: ic.MaxLedgerSeq,
	})
	if err == nil {
		return
	}
	// A rejection is the protocol working as intended: never counted as a bad message.
	reason := RejectReason(err)
	if reason == "" {
		if ss.ctx.Err() != nil {
			return
		}
		ss.s.log.Warn("submit input", "user", HexKey(ss.user)[:10], "err", err)
		reason = ReasonSubmitFailed
	}
	ss.send(inputStatusMsg(hash, false, reason, LedgerID{}))
}

// handleRead runs the read request in its own goroutine, so a slow contract does not stall the
// session; a session has at most ConcurrentReads requests in flight, and the node as a whole too.
func (ss *session) handleRead(m clientMsg) {
	select {
	case ss.readSlots <- struct{}{}:
	case <-ss.ctx.Done():
		return
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		defer func() { <-ss.readSlots }()
		select {
		case ss.s.reads <- struct{}{}:
		case <-ss.ctx.Done():
			return
		}
		outs, err := ss.s.b.Read(ss.ctx, ss.user, m.Content)
		<-ss.s.reads
		if err != nil {
			if ss.ctx.Err() == nil {
				ss.s.log.Warn("read request", "user", HexKey(ss.user)[:10], "err", err)
			}
			return
		}
		for _, o := range outs {
			ss.send(readResponseMsg(m.ID, o))
		}
	}()
}
