package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/nodedir"
	"github.com/hpfs/hpnode/p2p"
	"github.com/hpfs/hpnode/userapi"
)

// tickInterval is how often the consensus clock advances. Stages advance on messages; ticks only
// drive fallback timeouts and the idle heartbeat, so 10 ms is precise enough and cheap.
const tickInterval = 10 * time.Millisecond

// stepQueue bounds messages waiting for the consensus loop. When it is full a peer message is
// dropped (consensus tolerates loss); local reports always get in.
const stepQueue = 8192

// Node is one running hpnode. Build it with a Builder and start it with Run.
type Node struct {
	layout   nodedir.Layout
	pub      ed25519.PublicKey
	priv     ed25519.PrivateKey
	hpfsdBin string
	logger   *slog.Logger
	hooks    Hooks

	cfgMu sync.Mutex
	cfg   config.HPConfig // rewritten when an agreed patch.cfg changes the contract section

	// Set up by Run.
	fs      stateFS
	mesh    *p2p.Node
	db      *nodeDB
	exec    *executor
	events  *eventHub
	npl     *nplRouter
	steps   chan consensus.Message
	local   chan consensus.Message // reports from the executor and sync: never dropped
	view    viewState
	reads   readSessions
	outputs pendingOutputs
	// lateCerts holds certifying ledgers whose execution had not finished when they closed, by
	// executed sequence. Only the loop touches it.
	lateCerts map[uint64]consensus.Record
	metrics   *nodeMetrics
	// statusKick wakes the status publisher (kickStatus).
	statusKick chan struct{}
	// verifier checks relayed inputs off the consensus loop.
	verifier *inputVerifier
	// peerSeq is the highest ledger sequence a UNL member proposed for (signatures are checked at
	// the mesh boundary); syncing is set while runSync has a sync in flight. Both feed farBehind.
	peerSeq atomic.Uint64
	syncing atomic.Bool
	// catchUpAfter is when the loop may ask for a catch-up again (runConsensus owns it; the loop
	// reads it only while runConsensus waits for the session).
	catchUpAfter time.Time

	patchMu sync.Mutex
	patch   *config.PatchConfig // patch.cfg as of the latest execution
}

// Run starts hpfsd, the ledger store, the mesh, consensus and the user server, and serves until
// ctx is done or a part fails. It shuts everything down before returning: the contract is
// killed, hpfsd unmounts, the ledger is durable.
func (n *Node) Run(ctx context.Context) error {
	l := n.layout
	if err := nodedir.WritePID(l, os.Getpid()); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	defer os.Remove(l.PIDFile())

	hpfsLog, err := os.OpenFile(l.HPFSLog(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("hpfsd log: %w", err)
	}
	defer hpfsLog.Close()
	cfg := n.config()
	proc, err := startHPFS(ctx, n.hpfsdBin, l, int(cfg.HPFS.KeepVersions), hpfsLog)
	if err != nil {
		return err
	}
	defer func() {
		if err := proc.stop(); err != nil {
			n.logger.Warn("hpfsd stop", "err", err)
		}
	}()
	n.fs = stateFS{socket: l.HPFSSocket(), mount: l.Mount()}
	n.events = newEventHub()
	n.npl = newNPLRouter()
	n.steps = make(chan consensus.Message, stepQueue)
	n.statusKick = make(chan struct{}, 1)
	n.verifier = newInputVerifier()
	n.exec = &executor{
		fs:         n.fs,
		contractID: cfg.Contract.ID,
		pubHex:     cfg.Node.PublicKey,
		privHex:    cfg.Node.PrivateKey,
		npl:        n.npl,
		contractIO: &lineLogger{logger: n.logger},
		logger:     n.logger,
		lastGood:   n.lastGoodPatch,
	}
	n.metrics = newNodeMetrics(func() []p2p.PeerInfo { return n.mesh.Peers() })
	if n.mesh, err = n.newMesh(cfg); err != nil {
		return err
	}
	n.exec.sendNPL = n.sendNPL
	n.serveStateSync()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error {
		if err := n.mesh.Start(gctx); err != nil {
			return fmt.Errorf("mesh: %w", err)
		}
		<-gctx.Done()
		return n.mesh.Close()
	})
	g.Go(func() error { n.publishStatusEvery(gctx, time.Second); return nil })
	g.Go(func() error { n.verifier.run(gctx, n.steps); return nil })
	if cfg.Metrics.Listen != "" {
		g.Go(func() error { return n.metrics.serve(gctx, cfg.Metrics.Listen) })
	}
	cons, err := n.prepareConsensus(gctx)
	if err != nil {
		cancel()
		_ = g.Wait()
		return err
	}
	defer n.db.close()
	n.mesh.SetUNL(n.view.unlKeys())
	n.mesh.HandleRequest(kindLedgerFetch, n.serveLedgers)
	users, userLn, err := n.newUserServer(cfg)
	if err != nil {
		cancel()
		_ = g.Wait()
		return err
	}
	g.Go(func() error { return ignoreCanceled(users.Serve(gctx, userLn)) })
	g.Go(func() error { return n.runConsensus(gctx, cons) })

	n.view.setUp()
	n.publishStatus()
	n.logger.Info("node up", "key", cfg.Node.PublicKey, "user_port", cfg.User.Port, "peer_port", cfg.Mesh.Port,
		"contract", cfg.Contract.ID, "lcl", n.view.lcl().Seq)
	err = g.Wait()
	n.view.setDown()
	n.publishStatus()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (n *Node) config() config.HPConfig {
	n.cfgMu.Lock()
	defer n.cfgMu.Unlock()
	return n.cfg
}

// newConsensus resumes consensus from the node store (a fresh node's holds just its genesis,
// whose time is fixed at 0, not the clock, so every node seeded with the same bundle derives the
// same genesis record).
func (n *Node) newConsensus() (*consensus.Node, error) {
	cfg := n.config()
	st, err := n.db.load()
	if err != nil {
		return nil, err
	}
	cc := consensus.Config{
		ContractID:           cfg.Contract.ID,
		Signer:               consensus.NewEd25519Signer(n.priv),
		Rand:                 rand.Reader,
		RoundTime:            time.Duration(cfg.Contract.Consensus.RoundTime) * time.Millisecond,
		MaxInputLedgerOffset: uint64(cfg.Contract.MaxInputLedgerOffset),
		UserInputBytes:       cfg.Contract.RoundLimits.UserInputBytes,
		// userapi verified every local input's signature before SubmitInput.
		SubmitVerified: true,
		// Relayed inputs were checked by inputVerifier before the loop saw them.
		VerifyInput: n.verifier.verify,
		Logger:      n.logger,
		Tip:         st.tip,
		Result:      st.result,
		TipInputs:   st.tipInputs,
		History:     st.history,
		Hard:        st.hard,
	}
	n.view.setLedger(cc.Tip, cc.Tip.Hash())
	n.view.setUNL(cc.Tip.Value.Result.Config.UNL)
	n.view.setResult(st.result)
	return consensus.NewNode(cc, time.Now())
}

// newMesh creates the peer mesh: UNL filtering of proposals at the boundary, NPL routing, and the
// handlers feeding consensus.
func (n *Node) newMesh(cfg config.HPConfig) (*p2p.Node, error) {
	pc := p2p.Config{
		Key:            n.priv,
		ContractID:     cfg.Contract.ID,
		ListenAddr:     net.JoinHostPort(cfg.Mesh.ListenHost, strconv.Itoa(int(cfg.Mesh.Port))),
		AdvertiseAddr:  cfg.Mesh.AdvertiseAddr,
		Bootstrap:      cfg.Mesh.KnownPeers,
		DataDir:        n.layout.Peers(),
		MaxConnections: int(cfg.Mesh.MaxConnections),
		IdleTimeout:    time.Duration(cfg.Mesh.IdleTimeout) * time.Millisecond,
		MaxMessageSize: int(cfg.Mesh.MaxBytesPerMsg),
		BytesPerMinute: int64(cfg.Mesh.MaxBytesPerMin),
		BadPerMinute:   int(cfg.Mesh.MaxBadMsgsPerMin),
		DisableLanes:   cfg.Mesh.DisableLanes,
		Logger:         n.logger.With("part", "mesh"),
		Metrics:        n.metrics,
	}
	if cfg.Mesh.PeerDiscovery.Enabled {
		pc.RecordExpiry = time.Duration(cfg.Mesh.PeerDiscovery.RecordTTL) * time.Millisecond
		pc.ReannounceInterval = time.Duration(cfg.Mesh.PeerDiscovery.Interval) * time.Millisecond
	}
	if err := os.MkdirAll(pc.DataDir, 0o755); err != nil {
		return nil, err
	}
	mesh, err := p2p.New(pc)
	if err != nil {
		return nil, fmt.Errorf("mesh: %w", err)
	}
	var unl []ed25519.PublicKey
	for _, k := range cfg.Contract.UNL {
		if pub, err := config.ParsePublicKey(k); err == nil {
			unl = append(unl, pub)
		}
	}
	mesh.SetUNL(unl) // the agreed UNL replaces it once consensus is set up
	mesh.SetVerifier(p2p.KindProposal, consensus.ProposalSigner)
	mesh.Handle(p2p.KindProposal, n.onConsensusMessage)
	mesh.Handle(p2p.KindUserInputs, n.onConsensusMessage)
	mesh.Handle(kindLedger, n.onConsensusMessage)
	mesh.Handle(p2p.KindNPL, n.onNPL)
	return mesh, nil
}

// kindLedger carries ledger requests and responses between nodes (consensus wire messages that
// need no UNL filter: a ledger response is verified by its certificate).
const kindLedger p2p.Kind = 19

func (n *Node) onConsensusMessage(from p2p.PeerID, _ p2p.Kind, payload []byte) {
	var m consensus.Message
	if err := m.UnmarshalBinary(payload); err != nil {
		n.logger.Debug("bad consensus message", "peer", hex8(from[:]), "err", err)
		return
	}
	m.From = consensus.PubKey(from)
	if m.Type == consensus.MsgProposal && m.Proposal != nil {
		for seq := m.Proposal.Seq; ; {
			old := n.peerSeq.Load()
			if seq <= old || n.peerSeq.CompareAndSwap(old, seq) {
				break
			}
		}
	}
	if m.Type == consensus.MsgLedgerRequest {
		// Answered from the ledger store, which keeps far more than consensus's recent window:
		// a peer that fell far behind catches up from any node.
		n.answerLedgerRequest(from, m.Seq)
		return
	}
	// Every peer message passes the input verifier, in arrival order: input batches are checked
	// there on every core, and a proposal that a peer sent after its inputs reaches consensus
	// after them, as it did when consensus checked inputs itself. (Were proposals to overtake
	// inputs still being checked, rounds would close without them and use up the inputs'
	// ledger window.)
	if !n.verifier.submit(m) {
		n.logger.Debug("consensus queue full; message dropped", "type", m.Type)
	}
}

func (n *Node) answerLedgerRequest(to p2p.PeerID, seq uint64) {
	if n.db == nil {
		return
	}
	d, err := n.db.decided(seq)
	if err != nil || d == nil {
		return
	}
	resp := consensus.Message{Type: consensus.MsgLedgerResponse, Record: &d.Record, Inputs: d.Inputs}
	payload, err := resp.MarshalBinary()
	if err != nil {
		return
	}
	if err := n.mesh.Send(to, kindLedger, payload); err != nil {
		n.logger.Debug("ledger response", "to", hex8(to[:]), "seq", seq, "err", err)
	}
}

func (n *Node) onNPL(_ p2p.PeerID, _ p2p.Kind, payload []byte) {
	m, err := p2p.DecodeNPL(payload)
	if err != nil {
		return
	}
	n.npl.deliver(nplLedger{Seq: m.Ledger.Seq, Hash: m.Ledger.Hash}, m.Signer, m.Data)
}

func (n *Node) sendNPL(l nplLedger, data []byte) {
	scope := p2p.ToUNL
	if n.config().Contract.NPL.Mode == "public" {
		scope = p2p.ToAll
	}
	if _, err := n.mesh.SendNPL(p2p.LedgerID{Seq: l.Seq, Hash: l.Hash}, data, scope); err != nil {
		n.logger.Warn("npl send", "ledger", l.Seq, "err", err)
	}
	// The contract's own messages reach its own round too (HotPocket delivers self NPL).
	n.npl.deliver(l, [32]byte(n.pub), data)
}

func (n *Node) newUserServer(cfg config.HPConfig) (*userapi.Server, net.Listener, error) {
	cert, err := tls.LoadX509KeyPair(n.layout.TLSCert(), n.layout.TLSKey())
	if err != nil {
		return nil, nil, fmt.Errorf("user TLS: %w", err)
	}
	srv, err := userapi.New(userapi.Config{
		ContractID:       cfg.Contract.ID,
		ContractVersion:  cfg.Contract.Version,
		HPVersion:        config.Version,
		NodeKey:          n.priv,
		TLS:              &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		MaxMessageBytes:  int64(cfg.User.MaxBytesPerMsg),
		MaxConnections:   int(cfg.User.MaxConnections),
		MaxBadMsgsPerMin: int(cfg.User.MaxBadMsgsPerMin),
		ConcurrentReads:  int(cfg.User.ConcurrentReadRequests),
		// One ledger can carry tens of thousands of one user's inputs, each answered with its own
		// status message: the queue must hold a whole ledger's worth for a client that is keeping
		// up, so only a client that stops reading is dropped.
		SendQueue:             1 << 17,
		IdleTimeout:           time.Duration(cfg.User.IdleTimeout) * time.Millisecond,
		MaxConnectionsPerHost: int(cfg.User.MaxInConnectionsPerHst),
		MaxBytesPerMin:        int64(cfg.User.MaxBytesPerMin),
		Logger:                n.logger.With("part", "users"),
	}, &backend{n: n})
	if err != nil {
		return nil, nil, fmt.Errorf("user server: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.User.ListenHost, strconv.Itoa(int(cfg.User.Port))))
	if err != nil {
		return nil, nil, fmt.Errorf("user server: %w", err)
	}
	return srv, ln, nil
}

func hex8(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 8)
	for _, c := range b[:min(4, len(b))] {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
