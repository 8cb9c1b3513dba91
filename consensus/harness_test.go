package consensus

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

const testCID = "consensus-test"

// testNet is a synchronous in-package network of real-Ed25519 nodes: every message is encoded and
// decoded, executions complete at once, and time moves only in tick().
type testNet struct {
	t       testing.TB
	signers []*Ed25519Signer
	nodes   []*Node
	now     time.Time
	queue   []envelope
	ledgers [][]Decided
	states  []Result
	events  [][]Ready
	// filter may drop (return nil) or rewrite a message on its way from one node to another.
	filter func(from, to int, m *Message) *Message
	down   map[int]bool
	// nextConfig, if set, is the configuration executions of ledger seq >= configAt report.
	nextConfig *UNLConfig
	configAt   uint64
	// diverge[i] = seq makes node i's execution of ledger seq produce a different state.
	diverge map[int]uint64
	// slow[i] holds node i's executions in held[i] until release(i): a contract that runs long.
	slow map[int]bool
	held map[int][]Execution
}

type envelope struct {
	from, to int
	data     []byte
}

func testKeys(n int) []*Ed25519Signer {
	var out []*Ed25519Signer
	for i := 0; i < n; i++ {
		seed := blake3.Sum256([]byte(fmt.Sprintf("test node %d", i)))
		out = append(out, NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:])))
	}
	return out
}

func unlOf(ss []*Ed25519Signer, threshold uint8) UNLConfig {
	var keys []PubKey
	for _, s := range ss {
		keys = append(keys, s.PublicKey())
	}
	sort.Slice(keys, func(i, j int) bool { return string(keys[i][:]) < string(keys[j][:]) })
	return UNLConfig{UNL: keys, Threshold: threshold}
}

func testGenesis(cfg UNLConfig) Record {
	return Genesis(1_000_000, Result{StateHash: blake3.Sum256([]byte("state")), PatchHash: blake3.Sum256([]byte("patch")), Config: cfg})
}

// newTestNet starts n nodes sharing a UNL of the first unl signers (all n when unl is 0).
func newTestNet(t testing.TB, n, unl int) *testNet {
	t.Helper()
	if unl == 0 {
		unl = n
	}
	tn := &testNet{t: t, signers: testKeys(n), now: time.UnixMilli(2_000_000), down: map[int]bool{},
		slow: map[int]bool{}, held: map[int][]Execution{}}
	g := testGenesis(unlOf(tn.signers[:unl], 80))
	tn.ledgers = make([][]Decided, n)
	tn.events = make([][]Ready, n)
	for i := 0; i < n; i++ {
		tn.states = append(tn.states, g.Value.Result)
		tn.nodes = append(tn.nodes, tn.newNode(i, g, g.Value.Result, nil))
	}
	return tn
}

// newNodeFrom restarts node i from what it persisted: its closed ledgers, its state's result and
// its hard state.
func (tn *testNet) newNodeFrom(i int, ls []Decided, res Result, hard HardState) *Node {
	tip := ls[len(ls)-1]
	cfg := tn.config(i, tip.Record, res, ls)
	cfg.Hard = hard
	if res.Seq < tip.Record.Seq {
		cfg.TipInputs = tip.Inputs
	}
	nd, err := NewNode(cfg, tn.now)
	if err != nil {
		tn.t.Fatal(err)
	}
	return nd
}

func (tn *testNet) newNode(i int, tip Record, res Result, hist []Decided) *Node {
	nd, err := NewNode(tn.config(i, tip, res, hist), tn.now)
	if err != nil {
		tn.t.Fatal(err)
	}
	return nd
}

func (tn *testNet) config(i int, tip Record, res Result, hist []Decided) Config {
	return Config{
		ContractID:   testCID,
		Signer:       tn.signers[i],
		Rand:         &seededReader{rand.New(rand.NewPCG(uint64(i), 7))},
		Tip:          tip,
		Result:       res,
		History:      hist,
		RoundTime:    time.Second,
		StageTimeout: 100 * time.Millisecond,
	}
}

type seededReader struct{ r *rand.Rand }

func (s *seededReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

func (tn *testNet) exec(i int, x Execution) Result {
	prev := tn.states[i]
	h := x.Record.Hash()
	r := Result{Seq: x.Record.Seq, StateHash: sum(prev.StateHash[:], h[:]), PatchHash: prev.PatchHash, Config: x.Record.Value.Result.Config.Clone()}
	if tn.diverge[i] == x.Record.Seq {
		r.StateHash[0] ^= 0xff
	}
	if tn.nextConfig != nil && x.Record.Seq >= tn.configAt {
		r.Config = tn.nextConfig.Clone()
	}
	return r
}

// drain processes every node's Ready and delivers messages until nothing moves.
func (tn *testNet) drain() {
	for steps := 0; steps < 100000; steps++ {
		moved := false
		for i, nd := range tn.nodes {
			if tn.down[i] || nd == nil {
				continue
			}
			rd, ok := nd.Ready()
			if !ok {
				continue
			}
			moved = true
			tn.events[i] = append(tn.events[i], rd)
			tn.ledgers[i] = append(tn.ledgers[i], rd.Ledgers...)
			for _, m := range rd.Messages {
				for j := range tn.nodes {
					if j == i || (m.To != (PubKey{}) && m.To != tn.signers[j].PublicKey()) {
						continue
					}
					mm := &m
					if tn.filter != nil {
						if mm = tn.filter(i, j, mm); mm == nil {
							continue
						}
					}
					b, err := mm.MarshalBinary()
					if err != nil {
						tn.t.Fatal(err)
					}
					tn.queue = append(tn.queue, envelope{i, j, b})
				}
			}
			nd.Advance(rd)
			if tn.slow[i] {
				tn.held[i] = append(tn.held[i], rd.Execute...)
				rd.Execute = nil
			}
			for _, x := range rd.Execute {
				r := tn.exec(i, x)
				tn.states[i] = r
				if err := nd.Step(Message{Type: MsgExecResult, Result: &r}); err != nil {
					tn.t.Fatalf("node %d exec result: %v", i, err)
				}
			}
			if rd.Sync != nil {
				r := rd.Sync.Result
				tn.states[i] = r
				if err := nd.Step(Message{Type: MsgSyncDone, Result: &r}); err != nil {
					tn.t.Fatalf("node %d sync: %v", i, err)
				}
			}
		}
		if len(tn.queue) > 0 {
			e := tn.queue[0]
			tn.queue = tn.queue[1:]
			moved = true
			if !tn.down[e.to] && tn.nodes[e.to] != nil {
				var m Message
				if err := m.UnmarshalBinary(e.data); err != nil {
					tn.t.Fatal(err)
				}
				m.From = tn.signers[e.from].PublicKey()
				_ = tn.nodes[e.to].Step(m) // refusals are the point of several tests
			}
		}
		if !moved {
			return
		}
	}
	tn.t.Fatal("network did not settle")
}

// release completes node i's held executions, in order, and lets later ones run at once.
func (tn *testNet) release(i int) {
	tn.slow[i] = false
	xs := tn.held[i]
	tn.held[i] = nil
	for _, x := range xs {
		r := tn.exec(i, x)
		tn.states[i] = r
		if err := tn.nodes[i].Step(Message{Type: MsgExecResult, Result: &r}); err != nil {
			tn.t.Fatalf("node %d exec result: %v", i, err)
		}
	}
	tn.drain()
}

func (tn *testNet) tick(d time.Duration) {
	tn.now = tn.now.Add(d)
	for i, nd := range tn.nodes {
		if !tn.down[i] && nd != nil {
			nd.Tick(tn.now)
		}
	}
	tn.drain()
}

// runUntil ticks in 10 ms steps until every live node closed ledger seq, or fails after limit.
func (tn *testNet) runUntil(seq uint64, limit time.Duration) {
	tn.t.Helper()
	for waited := time.Duration(0); waited < limit; waited += 10 * time.Millisecond {
		tn.tick(10 * time.Millisecond)
		if tn.minTip() >= seq {
			return
		}
	}
	tn.t.Fatalf("ledger %d not reached in %v: tips %v", seq, limit, tn.tips())
}

func (tn *testNet) tips() []uint64 {
	var out []uint64
	for i, nd := range tn.nodes {
		if tn.down[i] || nd == nil {
			out = append(out, 0)
			continue
		}
		out = append(out, nd.Tip().Seq)
	}
	return out
}

func (tn *testNet) minTip() uint64 {
	m := ^uint64(0)
	for i, nd := range tn.nodes {
		if !tn.down[i] && nd != nil {
			m = min(m, nd.Tip().Seq)
		}
	}
	return m
}

// checkAgreement fails if two nodes closed different ledgers at one sequence.
func (tn *testNet) checkAgreement() {
	tn.t.Helper()
	seen := map[uint64]Hash{}
	for i, ls := range tn.ledgers {
		for _, d := range ls {
			h := d.Record.Hash()
			if old, ok := seen[d.Record.Seq]; ok && old != h {
				tn.t.Fatalf("fork at ledger %d: node %d has %s, another node %s", d.Record.Seq, i, h, old)
			}
			seen[d.Record.Seq] = h
		}
	}
}

func (tn *testNet) input(user int, nonce, maxSeq uint64, data string) Input {
	seed := blake3.Sum256([]byte(fmt.Sprintf("user %d", user)))
	k := ed25519.NewKeyFromSeed(seed[:])
	in := Input{Nonce: nonce, MaxLedgerSeq: maxSeq, Container: []byte(data)}
	copy(in.User[:], k.Public().(ed25519.PublicKey))
	copy(in.Sig[:], ed25519.Sign(k, in.Container))
	return in
}

// statuses collects the input statuses node i reported.
func (tn *testNet) statuses(i int) []InputStatus {
	var out []InputStatus
	for _, rd := range tn.events[i] {
		out = append(out, rd.InputStatuses...)
	}
	return out
}
