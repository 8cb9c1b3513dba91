package statesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

// Config configures a Client. Zero fields take the defaults.
type Config struct {
	// Scheduler is the fetch policy (work limit, proof size, backoff).
	Scheduler SchedulerConfig
	// RequestTimeout bounds one request (default 30s); a peer that does not answer in time
	// backs off and the range goes elsewhere.
	RequestTimeout time.Duration
	// LogInterval is the period of the progress log line (default 3s).
	LogInterval time.Duration
	// PollInterval is how often the peer list is refreshed and backoffs re-checked (default 50ms).
	PollInterval time.Duration
	// Logger receives the client's logs (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	c.Scheduler = c.Scheduler.withDefaults()
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.LogInterval <= 0 {
		c.LogInterval = 3 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 50 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Network is what the client needs of the mesh; *p2p.Node implements it.
type Network interface {
	Peers() []p2p.PeerInfo
	Request(ctx context.Context, to p2p.PeerID, kind p2p.Kind, req []byte, maxResp int) ([]byte, error)
}

// Errors Run returns.
var (
	// ErrAlreadyRunning: Run was called while another Run of the same Client is active.
	ErrAlreadyRunning = errors.New("statesync: sync already running")
	// ErrIncomplete: every range was fetched and applied, yet the sink does not report Done.
	ErrIncomplete = errors.New("statesync: sink not done after fetching every range")
)

// maxResets bounds how often the client refetches what the sink says it still misses after the
// scheduler ran out of ranges; beyond it the disagreement is a bug, reported as ErrIncomplete.
const maxResets = 3

// Client syncs the local store (through a ProofSink) to a target root from peers. It is the
// thin shell around a Scheduler: it performs the scheduler's fetches over the network, verifies
// each response, applies it, and feeds the outcome back.
type Client struct {
	net  Network
	sink ProofSink
	cfg  Config
	log  *slog.Logger

	running atomic.Bool
	wake    chan struct{}

	tmu     sync.Mutex
	pending merkle.Hash // target set by SetTarget, not yet taken by Run

	// applyMu is held for reading by each sink call (they run concurrently) and for writing
	// to move applyTarget, the target the sink may be moved to: a proof for any other root is
	// stale and never reaches the sink, and no call for an old target is still running when
	// the first call for a new one starts.
	applyMu     sync.RWMutex
	applyTarget merkle.Hash

	prog progress
}

// NewClient returns a client fetching over net into sink.
func NewClient(net Network, sink ProofSink, cfg Config) *Client {
	cfg = cfg.withDefaults()
	return &Client{net: net, sink: sink, cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}
}

// SetTarget moves a running sync (or the next Run) to a newer root; safe from any goroutine.
// Ranges already held are then fetched as change proofs from the old target.
func (c *Client) SetTarget(root merkle.Hash) {
	c.tmu.Lock()
	c.pending = root
	c.tmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Client) takeTarget() (merkle.Hash, bool) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	t := c.pending
	c.pending = merkle.Hash{}
	return t, !t.IsZero()
}

// Progress returns the current progress of the sync.
func (c *Client) Progress() ProgressSnapshot { return c.prog.snapshot(c.cfg.Now()) }

type fetchResult struct {
	Result
	target  merkle.Hash
	apply   ApplyResult
	entries uint64
	data    uint64
	proof   uint64
	totals  Totals
	err     error // why, for logs
	fatal   error // the sink failed: the sync cannot continue
}

// Run syncs to target (or a newer one given by SetTarget meanwhile) and returns nil exactly
// when the sink reports Done for the current target. It returns ctx's error when cancelled,
// and only after every goroutine it started has ended.
func (c *Client) Run(ctx context.Context, target merkle.Hash) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	if t, ok := c.takeTarget(); ok {
		target = t
	}
	sched := NewScheduler(c.cfg.Scheduler, target)
	c.setApplyTarget(target)
	c.prog.reset(target, c.cfg.Now())
	c.log.Info("statesync: start", "target", hex8(target))

	if ic, ok := c.sink.(IdleCloser); ok {
		// Deferred first, so it runs after every fetch has ended (wg.Wait below).
		defer ic.CloseIdle()
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	results := make(chan fetchResult, c.cfg.Scheduler.MaxInFlight)
	// A typical response is the proof limit plus half (a proof may pass its limit by a leaf).
	bufs := newFreeList(c.cfg.Scheduler.MaxInFlight, int(c.cfg.Scheduler.MaxBytes)*3/2+64<<10)
	poll := time.NewTicker(c.cfg.PollInterval)
	defer poll.Stop()
	logT := time.NewTicker(c.cfg.LogInterval)
	defer logT.Stop()
	var lastRemaining []merkle.KeyRange
	resets := 0
	done, err := c.begin(ctx, sched)
	if err != nil {
		return err
	}
	for {
		if t, ok := c.takeTarget(); ok && t != sched.Target() {
			c.log.Info("statesync: target moved", "from", hex8(sched.Target()), "to", hex8(t))
			c.setApplyTarget(t)
			sched.SetTarget(t)
			c.prog.update(func(s *ProgressSnapshot) { s.Target = t })
			done, lastRemaining = false, nil
		}
		if done {
			c.prog.update(func(s *ProgressSnapshot) { s.Done, s.InFlight = true, 0 })
			snap := c.Progress()
			c.log.Info("statesync: done", "target", hex8(sched.Target()), "entries", snap.Entries,
				"bytes", snap.Bytes, "elapsed", snap.Elapsed.Round(time.Millisecond), "rate_mb_s", int(snap.Rate/1e5)/10.0)
			return nil
		}
		now := c.cfg.Now()
		sched.Tick(now)
		sched.SetPeers(peerIDs(c.net.Peers()))
		if sched.Idle() {
			if resets++; resets > maxResets {
				return fmt.Errorf("sync to %s: %w", hex8(sched.Target()), ErrIncomplete)
			}
			if len(lastRemaining) == 0 {
				lastRemaining = []merkle.KeyRange{{Start: merkle.Key{}}}
			}
			c.log.Warn("statesync: refetching what the sink still misses", "ranges", len(lastRemaining))
			sched.Reset(lastRemaining)
		}
		for _, f := range sched.Next(now) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.fetch(ctx, f, bufs)
				select {
				case results <- r:
				case <-ctx.Done():
				}
			}()
		}
		usable, dropped := sched.PeerCounts()
		inflight := sched.InFlight()
		c.prog.update(func(s *ProgressSnapshot) { s.InFlight, s.Peers, s.DroppedPeers = inflight, usable, dropped })

		select {
		case <-ctx.Done():
			return fmt.Errorf("sync to %s: %w", hex8(sched.Target()), context.Cause(ctx))
		case r := <-results:
			if r.fatal != nil {
				return fmt.Errorf("sync to %s: %w", hex8(sched.Target()), r.fatal)
			}
			c.record(sched, r)
			sched.Result(r.Result, c.cfg.Now())
			if r.Outcome == OutcomeProof && r.target == sched.Target() {
				// Applies run concurrently, so an answer may be older than one already
				// seen: Done is final for a target, and Remaining only matters while not.
				if r.apply.Done {
					done = true
				} else {
					lastRemaining = r.apply.Remaining
				}
			}
		case <-c.wake:
		case <-poll.C:
		case <-logT.C:
			snap := c.Progress()
			logProgress(c.log, snap)
			if snap.Peers == 0 {
				c.log.Warn("statesync: no usable peer", "dropped_peers", snap.DroppedPeers)
			}
		}
	}
}

// begin asks a Beginner sink what it misses for the scheduler's target and starts the scheduler
// from that; it reports whether the sink already holds the target.
func (c *Client) begin(ctx context.Context, sched *Scheduler) (bool, error) {
	b, ok := c.sink.(Beginner)
	if !ok {
		return false, nil
	}
	res, err := b.Begin(ctx, sched.Target())
	if err != nil {
		return false, fmt.Errorf("sync to %s: begin: %w", hex8(sched.Target()), err)
	}
	if !res.Done {
		if len(res.Remaining) == 0 {
			return false, fmt.Errorf("sync to %s: begin: sink is not done yet misses nothing", hex8(sched.Target()))
		}
		sched.Reset(res.Remaining)
	}
	return res.Done, nil
}

// record logs penalties and counts progress for one result.
func (c *Client) record(sched *Scheduler, r fetchResult) {
	switch r.Outcome {
	case OutcomeProof:
		c.prog.update(func(s *ProgressSnapshot) {
			s.Entries += r.entries
			s.Bytes += r.data
			s.ProofBytes += r.proof
			if r.totals.Entries > 0 {
				s.TotalEntries, s.TotalBytes = r.totals.Entries, r.totals.Bytes
			}
		})
	case OutcomeBadProof:
		if f := sched.fetches[r.ID]; f != nil && !sched.Dropped(f.peer) {
			c.log.Warn("statesync: peer dropped for a bad response", "peer", f.peer, "err", r.err)
		}
	case OutcomeFailed, OutcomeNack, OutcomeBusy:
		if f := sched.fetches[r.ID]; f != nil {
			c.log.Debug("statesync: request failed", "peer", f.peer, "outcome", r.Outcome, "err", r.err)
		}
	}
}

func (c *Client) setApplyTarget(t merkle.Hash) {
	c.applyMu.Lock()
	c.applyTarget = t
	c.applyMu.Unlock()
}

func peerIDs(ps []p2p.PeerInfo) []p2p.PeerID {
	out := make([]p2p.PeerID, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}
