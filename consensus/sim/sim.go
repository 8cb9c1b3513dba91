package sim

import (
	"container/heap"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/hpfs/hpnode/consensus"
	"github.com/zeebo/blake3"
)

// Options describes one simulated run. Zero fields take the defaults in withDefaults.
type Options struct {
	Nodes int
	Seed  uint64
	// Threshold is the UNL threshold percentage (default 80).
	Threshold uint8
	// Drop and Dup are per-delivery probabilities of losing and of duplicating a message.
	Drop, Dup float64
	// MinDelay and MaxDelay bound the delivery delay; random delays reorder messages.
	MinDelay, MaxDelay time.Duration
	// Partition splits the nodes into two random groups for a while, then heals.
	Partition bool
	// Crash stops one node for a while and restarts it from what it persisted.
	Crash bool
	// NonDet makes one node's contract produce a different state hash once.
	NonDet bool
	// Equivocate makes one UNL member send conflicting, validly signed proposals to different peers.
	Equivocate bool
	// Inputs is how many user inputs are submitted, at random times and nodes.
	Inputs int
	// Ledgers is how many ledgers past the highest one closed when the last fault healed, plus one,
	// every honest node must close (liveness); in any case every honest node must reach ledger 3.
	Ledgers uint64
	// RealSigs uses Ed25519 instead of the cheap keyed-hash scheme.
	RealSigs bool
	// StreamRate inputs per virtual second are submitted to node 0 for StreamFor, by one user in
	// nonce order (as one client does), one Step per input and one Ready per millisecond (as the
	// node's loop does). Links are then FIFO, as the mesh's TCP and QUIC streams are.
	StreamRate int
	StreamFor  time.Duration
	// ExecPerInput is the contract's execution time per input, on top of 1-10 ms per ledger (the
	// echo contract on a real node takes about 0.4 ms per input, so a burst ledger runs for seconds).
	ExecPerInput time.Duration

	debug bool
}

// Fault profiles a seed can draw; see ForSeed.
const (
	ProfileLossy = iota
	ProfilePartition
	ProfileCrash
	ProfileNonDet
	ProfileEquivocate
	profiles
)

// ForSeed derives a run from a cluster size and a seed: the seed picks one fault profile (lossy,
// partition+heal, crash+restart, non-deterministic node, equivocating member; equivocation only
// where the UNL tolerates a faulty member, n >= 7 at 80%) and the loss, duplication and input load.
// A sweep over seeds therefore covers every profile, and one seed names one run exactly.
func ForSeed(nodes int, seed uint64) Options {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	o := Options{Nodes: nodes, Seed: seed, Drop: r.Float64() * 0.1, Dup: r.Float64() * 0.1, Inputs: r.IntN(6),
		MinDelay: time.Millisecond, MaxDelay: time.Duration(2+r.IntN(15)) * time.Millisecond}
	if r.IntN(8) == 0 {
		o.MaxDelay = 60 * time.Millisecond // slower than a stage timeout: rounds must still converge
	}
	switch p := int(seed % profiles); p {
	case ProfilePartition:
		o.Partition = true
	case ProfileCrash:
		o.Crash = true
	case ProfileNonDet:
		o.NonDet = true
	case ProfileEquivocate:
		if consensus.LivenessTolerance(80, nodes) >= 1 {
			o.Equivocate = true
		} else {
			o.Drop, o.Dup = 0.15, 0.15
		}
	default:
		o.Drop, o.Dup = 0.15, 0.15
	}
	return o
}

func (o Options) withDefaults() Options {
	if o.Threshold == 0 {
		o.Threshold = 80
	}
	if o.MaxDelay == 0 {
		o.MinDelay, o.MaxDelay = time.Millisecond, 8*time.Millisecond
	}
	if o.Ledgers == 0 {
		o.Ledgers = 1
	}
	return o
}

// String is the options as the test flags that reproduce them.
func (o Options) String() string {
	return fmt.Sprintf("nodes=%d seed=%d drop=%.2f dup=%.2f partition=%v crash=%v nondet=%v equivocate=%v inputs=%d",
		o.Nodes, o.Seed, o.Drop, o.Dup, o.Partition, o.Crash, o.NonDet, o.Equivocate, o.Inputs)
}

// Report summarizes a run.
type Report struct {
	// Virtual is the virtual time the run took.
	Virtual time.Duration
	// MinLedger is the lowest tip among honest nodes at the end.
	MinLedger uint64
	// Deliveries counts delivered messages.
	Deliveries int
	// Rounds counts the (seq, round) pairs each node entered and sent a stage-0 proposal for: the
	// work the cluster did (n per ledger when every ledger closes in its first round).
	Rounds int
	// Accepted counts input statuses "accepted" delivered to users.
	Accepted int
	// Rejected counts input statuses "rejected" (a legitimate outcome: a later nonce of the same
	// user may close first when messages are lost).
	Rejected int
	// AcceptLatency is, per accepted input, the virtual time from submission to the accepted status.
	AcceptLatency []time.Duration
	// DesyncReported and SyncTargets record what the non-deterministic node saw.
	DesyncReported bool
	SyncTargets    int
	// LedgerRequests counts ledger requests sent: a node that closed a ledger whose inputs it
	// lacks, or that fell behind, fetches the whole ledger from a peer.
	LedgerRequests int
	// LastAccept is the virtual time of the last accepted status.
	LastAccept time.Duration
	// MaxRound is the highest round any honest node closed a ledger in (0 when every ledger closed
	// in its first round).
	MaxRound uint32
}

// ErrSafety and ErrLiveness classify a failed run.
var (
	ErrSafety   = errors.New("sim: safety violated")
	ErrLiveness = errors.New("sim: liveness violated")
)

const (
	contractID   = "sim-contract"
	tickEvery    = 10 * time.Millisecond
	roundTime    = 200 * time.Millisecond
	stageTimeout = 40 * time.Millisecond
	faultStart   = 150 * time.Millisecond
	faultLength  = 400 * time.Millisecond
	// livenessBound is how long after the last fault heals every honest node must have reached the
	// target: at 10-30 ms per ledger that is hundreds of rounds, so only a stuck cluster hits it.
	livenessBound = 10 * time.Second
)

type simNode struct {
	idx    int
	signer consensus.Signer
	key    consensus.PubKey
	node   *consensus.Node
	up     bool
	epoch  int
	byz    bool
	nondet uint64 // ledger whose execution diverges on this node, 0 for none
	// lastRound is the (seq, round) of the last stage-0 proposal counted in Report.Rounds.
	lastRound [2]uint64

	// Persisted: the chain and the hard state.
	chain []consensus.Decided
	hard  consensus.HardState
	// The contract state store: the last completed execution's result.
	last consensus.Result
}

type world struct {
	o       Options
	rng     *rand.Rand
	now     time.Duration
	q       queue
	order   uint64
	nodes   []*simNode
	genesis consensus.Record
	byKey   map[consensus.PubKey]int
	closed  map[uint64]consensus.Hash // safety oracle: the one hash each closed sequence has
	group   []int                     // partition group per node; nil when healed
	verify  consensus.SigVerifier
	rep     Report
	err     error
	lastOK  time.Duration // when the last fault ended
	floor   uint64        // highest ledger when the last fault ended
	users   []consensus.PubKey
	nonces  map[consensus.PubKey]uint64
	pending map[consensus.Hash]int // submitted inputs without a status yet, by submitting node
	sentAt  map[consensus.Hash]time.Duration
	link    map[[2]int]time.Duration // FIFO streams: the last delivery time per (from, to)
}

// Run simulates one seed and checks safety and liveness; the error names the violated property.
func Run(o Options) (Report, error) {
	o = o.withDefaults()
	if o.Nodes < 1 || o.Nodes > consensus.MaxUNL {
		return Report{}, fmt.Errorf("sim: %d nodes", o.Nodes)
	}
	w := &world{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), closed: map[uint64]consensus.Hash{},
		byKey: map[consensus.PubKey]int{}, nonces: map[consensus.PubKey]uint64{}, pending: map[consensus.Hash]int{}, sentAt: map[consensus.Hash]time.Duration{},
		link: map[[2]int]time.Duration{}}
	w.verify = fakeVerify
	if o.RealSigs {
		w.verify = consensus.Ed25519Verify
	}
	w.setup()
	if w.err != nil {
		return w.rep, w.err
	}
	for w.err == nil && w.q.Len() > 0 {
		e := heap.Pop(&w.q).(*event)
		w.now = e.at
		if w.now > w.lastOK+livenessBound {
			w.err = fmt.Errorf("%w: only ledger %d %v after the last fault (need %d more than at heal)", ErrLiveness, w.minLedger(), livenessBound, o.Ledgers)
			break
		}
		w.handle(e)
		if w.done() {
			break
		}
	}
	w.rep.Virtual = w.now
	w.rep.MinLedger = w.minLedger()
	if w.err == nil && !w.done() {
		w.err = fmt.Errorf("%w: simulation ran out of events at ledger %d", ErrLiveness, w.minLedger())
	}
	return w.rep, w.err
}

func (w *world) at(d time.Duration, e *event) {
	e.at = w.now + d
	w.order++
	e.order = w.order
	heap.Push(&w.q, e)
}

func (w *world) setup() {
	o := w.o
	var unl []consensus.PubKey
	for i := 0; i < o.Nodes; i++ {
		var seed [32]byte
		seed[0], seed[1] = byte(i), byte(i>>8)
		var s consensus.Signer
		if o.RealSigs {
			s = consensus.NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:]))
		} else {
			s = fakeSigner{pub: consensus.PubKey(blake3.Sum256(seed[:]))}
		}
		n := &simNode{idx: i, signer: s, key: s.PublicKey()}
		w.nodes = append(w.nodes, n)
		w.byKey[n.key] = i
		unl = append(unl, n.key)
	}
	sortKeys(unl)
	init := consensus.Result{StateHash: blake3.Sum256([]byte("genesis state")), PatchHash: blake3.Sum256([]byte("patch.cfg")),
		Config: consensus.UNLConfig{UNL: unl, Threshold: o.Threshold}}
	w.genesis = consensus.Genesis(1_700_000_000_000, init)
	w.closed[0] = w.genesis.Hash()
	for _, n := range w.nodes {
		n.last = w.genesis.Value.Result
		w.start(n)
		w.at(time.Duration(w.rng.Int64N(int64(tickEvery))), &event{kind: evTick, node: n.idx, epoch: n.epoch})
	}
	for u := 0; u < 2*o.Nodes; u++ {
		w.users = append(w.users, consensus.PubKey(blake3.Sum256([]byte{byte(u), 'u'})))
	}
	span := faultStart + faultLength + time.Second
	for i := 0; i < o.Inputs; i++ {
		w.at(time.Duration(w.rng.Int64N(int64(span))), &event{kind: evSubmit, node: -1})
	}
	if o.StreamRate > 0 {
		for t := time.Duration(0); t < o.StreamFor; t += time.Millisecond {
			w.at(t, &event{kind: evStream, node: 0})
		}
		w.lastOK = max(w.lastOK, o.StreamFor)
	}
	if o.Partition {
		w.at(faultStart, &event{kind: evPartition})
		w.at(faultStart+faultLength, &event{kind: evHeal})
		w.lastOK = max(w.lastOK, faultStart+faultLength)
	}
	if o.Crash {
		victim := w.rng.IntN(o.Nodes)
		w.at(faultStart+time.Duration(w.rng.Int64N(int64(faultLength/2))), &event{kind: evCrash, node: victim})
		w.at(faultStart+faultLength, &event{kind: evRestart, node: victim})
		w.lastOK = max(w.lastOK, faultStart+faultLength)
	}
	if o.NonDet {
		w.nodes[w.rng.IntN(o.Nodes)].nondet = 2 + uint64(w.rng.IntN(2))
	}
	if o.Equivocate {
		w.nodes[w.rng.IntN(o.Nodes)].byz = true
	}
}

func sortKeys(ks []consensus.PubKey) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && string(ks[j-1][:]) > string(ks[j][:]); j-- {
			ks[j-1], ks[j] = ks[j], ks[j-1]
		}
	}
}

// start creates (or re-creates after a crash) a node from what it persisted.
func (w *world) start(n *simNode) {
	tip := w.genesis
	var tipInputs []consensus.Input
	var hist []consensus.Decided
	// The contract state survives a crash only up to the last completed execution; a persisted ledger
	// beyond the next one is dropped and fetched again from peers.
	for len(n.chain) > 0 && n.chain[len(n.chain)-1].Record.Seq > n.last.Seq+1 {
		n.chain = n.chain[:len(n.chain)-1]
	}
	if len(n.chain) > 0 {
		d := n.chain[len(n.chain)-1]
		tip, tipInputs = d.Record, d.Inputs
		hist = n.chain[max(0, len(n.chain)-16):]
	}
	cfg := consensus.Config{
		ContractID:   contractID,
		Signer:       n.signer,
		Verify:       w.verify,
		VerifyInput:  fakeVerifyInput,
		Rand:         &rngReader{r: rand.New(rand.NewPCG(w.o.Seed, uint64(n.idx)<<32|uint64(n.epoch)))},
		Tip:          tip,
		Result:       n.last,
		TipInputs:    tipInputs,
		History:      hist,
		Hard:         n.hard,
		RoundTime:    roundTime,
		StageTimeout: stageTimeout,
		KeepLedgers:  64,
	}
	if n.last.Seq == tip.Seq {
		cfg.TipInputs = nil
	}
	if w.o.debug && n.idx == 0 {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	node, err := consensus.NewNode(cfg, w.clock())
	if err != nil {
		w.err = fmt.Errorf("sim: start node %d: %w", n.idx, err)
		return
	}
	n.node, n.up = node, true
	w.process(n)
}

func (w *world) clock() time.Time { return time.UnixMilli(1_700_000_000_000).Add(w.now) }

type rngReader struct{ r *rand.Rand }

func (r *rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

func (w *world) minLedger() uint64 {
	m := uint64(1<<63 - 1)
	for _, n := range w.nodes {
		if n.byz {
			continue
		}
		var tip uint64
		if len(n.chain) > 0 {
			tip = n.chain[len(n.chain)-1].Record.Seq
		}
		m = min(m, tip)
	}
	return m
}

// done reports whether the liveness goal is met: all faults over, every honest node at the target
// ledger, and the non-deterministic node (if any) desynced, synced and caught up.
func (w *world) done() bool {
	if w.now < w.lastOK {
		return false
	}
	for _, n := range w.nodes {
		if !n.up && !n.byz {
			return false
		}
	}
	if w.o.NonDet && (w.rep.SyncTargets == 0 || !w.rep.DesyncReported) {
		return false
	}
	if len(w.pending) > 0 {
		return false
	}
	return w.minLedger() >= max(3, w.o.Ledgers+w.ledgerFloor())
}

// ledgerFloor is the ledger the slowest honest node must pass: the target counts from the end of
// the last fault, which is what "progress after heal" means.
func (w *world) ledgerFloor() uint64 {
	if w.lastOK == 0 {
		return 0
	}
	if w.floor == 0 && w.now >= w.lastOK {
		w.floor = w.maxLedger() + 1
	}
	return w.floor
}

func (w *world) maxLedger() uint64 {
	var m uint64
	for _, n := range w.nodes {
		if len(n.chain) > 0 {
			m = max(m, n.chain[len(n.chain)-1].Record.Seq)
		}
	}
	return m
}
