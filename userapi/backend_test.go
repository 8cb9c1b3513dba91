package userapi

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/hpfs/hpnode/outtree"
)

// testBackend is an in-process node for tests: a UNL of real Ed25519 keys, deterministic ledgers
// (every hash is BLAKE3 of the ledger's content, no clock, no randomness) and an echo contract
// that answers every input with "echo:" + input, signed by every UNL key like a real round.
type testBackend struct {
	unl      []ed25519.PrivateKey // unl[0] is the serving node's key
	maxOff   uint64               // max_input_ledger_offset
	readErr  error                // returned by Read when set
	queryErr error                // returned by LedgerBySeq when set

	mu      sync.Mutex
	lcl     LedgerID
	ledgers map[uint64]*Ledger
	pending []Input
	nonces  map[string]uint64 // user → highest accepted-for-queueing nonce
	seen    map[Hash]bool

	subMu sync.Mutex // serializes emit, so subscribers see events in order
	subs  map[int]func(Event)
	next  int
}

func newTestBackend(unlSize int) *testBackend {
	b := &testBackend{
		maxOff:  10,
		ledgers: make(map[uint64]*Ledger),
		nonces:  make(map[string]uint64),
		seen:    make(map[Hash]bool),
		subs:    make(map[int]func(Event)),
	}
	for i := 0; i < unlSize; i++ {
		seed := blake3.Sum256([]byte(fmt.Sprintf("unl key %d", i)))
		b.unl = append(b.unl, ed25519.NewKeyFromSeed(seed[:]))
	}
	b.ledgers[0] = &Ledger{Seq: 0}
	return b
}

func (b *testBackend) unlKeys() []ed25519.PublicKey {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unlKeysLocked()
}

func (b *testBackend) unlKeysLocked() []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(b.unl))
	for i, k := range b.unl {
		out[i] = k.Public().(ed25519.PublicKey)
	}
	return out
}

func (b *testBackend) SubmitInput(ctx context.Context, in Input) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := CheckLedgerWindow(b.lcl.Seq, in.MaxLedgerSeq, b.maxOff); err != nil {
		return err
	}
	if b.seen[in.Hash] {
		return Reject(ReasonAlreadySubmitted)
	}
	if in.Nonce <= b.nonces[string(in.User)] {
		return Reject(ReasonNonceExpired)
	}
	b.nonces[string(in.User)] = in.Nonce
	b.seen[in.Hash] = true
	b.pending = append(b.pending, in)
	return nil
}

func (b *testBackend) Read(ctx context.Context, user ed25519.PublicKey, content []byte) ([][]byte, error) {
	if b.readErr != nil {
		return nil, b.readErr
	}
	return [][]byte{append([]byte("read:"), content...)}, nil
}

func (b *testBackend) Stat(ctx context.Context) (Stat, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stat{
		LCL:                      b.lcl,
		VoteStatus:               "synced",
		RoundTime:                1000,
		ContractExecutionEnabled: true,
		ReadRequestsEnabled:      true,
		CurrentUNL:               b.unlKeysLocked(),
		Peers:                    []string{"127.0.0.1:22861", "127.0.0.1:22862"},
	}, nil
}

func (b *testBackend) LCL(ctx context.Context) (LedgerID, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lcl, nil
}

func (b *testBackend) UNL(ctx context.Context) ([]ed25519.PublicKey, error) {
	return b.unlKeys(), nil
}

func (b *testBackend) LedgerBySeq(ctx context.Context, user ed25519.PublicKey, seq uint64, inputs, outputs bool) (*Ledger, error) {
	if b.queryErr != nil {
		return nil, b.queryErr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.ledgers[seq]
	if !ok {
		return nil, nil
	}
	cp := *l
	return &cp, nil
}

func (b *testBackend) Subscribe(fn func(Event)) func() {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	id := b.next
	b.next++
	b.subs[id] = fn
	return func() {
		b.subMu.Lock()
		defer b.subMu.Unlock()
		delete(b.subs, id)
	}
}

func (b *testBackend) emit(events ...Event) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	for _, e := range events {
		for _, fn := range b.subs {
			fn(e)
		}
	}
}

// changeUNL replaces the UNL by keys and announces it.
func (b *testBackend) changeUNL(keys []ed25519.PrivateKey) {
	b.mu.Lock()
	b.unl = keys
	unl := b.unlKeysLocked()
	b.mu.Unlock()
	b.emit(&UNLChanged{UNL: unl})
}

// closeLedger closes one ledger with every pending input, runs the echo contract, and emits the
// statuses, the ledger and the signed outputs. It returns the new ledger.
func (b *testBackend) closeLedger() *Ledger {
	b.mu.Lock()
	ins := b.pending
	b.pending = nil
	prev := b.lcl
	seq := prev.Seq + 1
	l := &Ledger{Seq: seq, Timestamp: 1_700_000_000_000 + seq*1000, PrevHash: prev.Hash}

	// Outputs per user, in input order; the state is the hash of everything echoed so far.
	var users []outtree.UserOutputs
	byUser := map[string]int{}
	ih := blake3.New()
	for _, in := range ins {
		ih.Write(in.Hash[:])
		l.Inputs = append(l.Inputs, LedgerInput{User: in.User, Hash: in.Hash, Nonce: in.Nonce, Blob: in.Data})
		i, ok := byUser[string(in.User)]
		if !ok {
			i = len(users)
			byUser[string(in.User)] = i
			users = append(users, outtree.UserOutputs{User: in.User})
		}
		users[i].Outputs = append(users[i].Outputs, append([]byte("echo:"), in.Data...))
	}
	if len(ins) > 0 {
		ih.Sum(l.InputHash[:0])
	}
	state := blake3.New()
	state.Write(b.ledgers[prev.Seq].StateHash[:])
	hashes := make([]Hash, len(users))
	for i, u := range users {
		hashes[i] = outtree.UserHash(u.User, u.Outputs)
		state.Write(hashes[i][:])
		l.Outputs = append(l.Outputs, LedgerOutput{User: u.User, Hash: hashes[i], Blobs: u.Outputs})
	}
	state.Sum(l.StateHash[:0])
	tree := outtree.Of(users, l.StateHash)
	if tree.Root() != outtree.New(hashes, l.StateHash).Root() {
		panic("outtree.Of differs from outtree.New of the users' hashes")
	}
	l.OutputHash = tree.Root()
	var seqb [8]byte
	binary.BigEndian.PutUint64(seqb[:], seq)
	lh := blake3.New()
	lh.Write(prev.Hash[:])
	lh.Write(seqb[:])
	lh.Write(l.StateHash[:])
	lh.Write(l.InputHash[:])
	lh.Write(l.OutputHash[:])
	lh.Sum(l.Hash[:0])
	b.ledgers[seq] = l
	b.lcl = LedgerID{Seq: seq, Hash: l.Hash}
	var sigs []OutputSig
	for _, k := range b.unl {
		sigs = append(sigs, SignOutputRoot(k, tree.Root()))
	}
	b.mu.Unlock()

	events := make([]Event, 0, len(ins)+2)
	for _, in := range ins {
		events = append(events, &InputStatus{User: in.User, InputHash: in.Hash, Accepted: true, Ledger: LedgerID{Seq: seq, Hash: l.Hash}})
	}
	events = append(events, &LedgerCreated{Ledger: *l})
	if len(users) > 0 {
		events = append(events, &RoundOutputs{Ledger: LedgerID{Seq: seq, Hash: l.Hash}, Tree: tree, Users: users, Sigs: sigs})
	}
	b.emit(events...)
	return l
}

// errTest is a Backend failure.
var errTest = errors.New("test backend failure")
