package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hpfs/hpnode/consensus"
)

// Options configures a Store.
type Options struct {
	// KeepRecords is how many most recent records to keep; 0 keeps all. Genesis is always kept.
	KeepRecords uint64
	// KeepRaw is how many most recent ledgers' raw inputs and outputs to keep; 0 keeps as many as
	// KeepRecords.
	KeepRaw uint64
	// NoSync skips fsync on append (benchmarks and tests only; a crash may lose the last ledgers).
	NoSync bool
	// Verify is the signature scheme of certificates; default consensus.Ed25519Verify.
	Verify consensus.SigVerifier
	// Logger receives pebble's messages; default slog.Default().
	Logger *slog.Logger
}

// Errors callers branch on.
var (
	// ErrNotFound means the ledger (or its raw data) is not stored: never closed, or pruned.
	ErrNotFound = errors.New("ledger: not found")
	// ErrGenesisMismatch means the store was created with another genesis.
	ErrGenesisMismatch = errors.New("ledger: store has a different genesis")
)

// Store is the ledger chain of one contract. It is safe for concurrent readers and one writer.
type Store struct {
	db         *pebble.DB
	contractID string
	opts       Options

	// mu guards genesis, tip and first: the one writer changes them (genesis only by Reanchor)
	// while readers (a node answering peers' ledger fetches) read them.
	mu      sync.RWMutex
	genesis consensus.Record
	tip     consensus.Record
	first   uint64 // oldest retained record (>= 1), or tip+1 when only genesis exists
}

const (
	kindGenesis = 'g'
	kindRecord  = 'r'
	kindInputs  = 'i'
	kindOutputs = 'o'
)

func key(kind byte, seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = kind
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// Open opens (or creates) the store in dir for a contract whose chain starts at genesis. genesis
// may also be a later record the caller trusts (Seq > 0): a node that joined a running cluster
// keeps the chain from the ledger it anchored on.
func Open(dir, contractID string, genesis consensus.Record, opts Options) (*Store, error) {
	if opts.KeepRaw == 0 {
		opts.KeepRaw = opts.KeepRecords
	}
	if opts.Verify == nil {
		opts.Verify = consensus.Ed25519Verify
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{opts.Logger}})
	if err != nil {
		return nil, fmt.Errorf("open ledger store %s: %w", dir, err)
	}
	s := &Store{db: db, contractID: contractID, opts: opts, genesis: genesis, tip: genesis}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) load() error {
	g, err := s.get(key(kindGenesis, 0))
	switch {
	case errors.Is(err, ErrNotFound):
		b, _ := s.genesis.MarshalBinary()
		if err := s.db.Set(key(kindGenesis, 0), b, pebble.Sync); err != nil {
			return fmt.Errorf("write genesis: %w", err)
		}
	case err != nil:
		return err
	default:
		var stored consensus.Record
		if err := stored.UnmarshalBinary(g); err != nil {
			return fmt.Errorf("decode stored genesis: %w", err)
		}
		if stored.Hash() != s.genesis.Hash() {
			return fmt.Errorf("genesis %s, stored %s: %w", s.genesis.Hash(), stored.Hash(), ErrGenesisMismatch)
		}
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: key(kindRecord, 1), UpperBound: []byte{kindRecord + 1}})
	if err != nil {
		return fmt.Errorf("scan records: %w", err)
	}
	defer it.Close()
	s.first = s.genesis.Seq + 1
	if it.First() {
		s.first = binary.BigEndian.Uint64(it.Key()[1:])
	}
	if it.Last() {
		var r consensus.Record
		if err := r.UnmarshalBinary(it.Value()); err != nil {
			return fmt.Errorf("decode tip record: %w", err)
		}
		s.tip = r
	} else {
		s.first = s.genesis.Seq + 1
	}
	return it.Error()
}

func (s *Store) get(k []byte) ([]byte, error) {
	v, c, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %c%d: %w", k[0], binary.BigEndian.Uint64(k[1:]), err)
	}
	out := append([]byte(nil), v...)
	return out, c.Close()
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Genesis returns the genesis record.
func (s *Store) Genesis() consensus.Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.genesis
}

// Tip returns the newest record (genesis when none was appended).
func (s *Store) Tip() consensus.Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tip
}

// First returns the oldest retained non-genesis sequence (tip+1 when there is none).
func (s *Store) First() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.tip.Seq == s.genesis.Seq {
		return s.genesis.Seq + 1
	}
	return s.first
}

func (s *Store) writeOpts() *pebble.WriteOptions {
	if s.opts.NoSync {
		return pebble.NoSync
	}
	return pebble.Sync
}

// Append stores a closed ledger after checking that it extends the tip with a valid certificate
// (consensus.VerifyRecord), in one synced batch, then prunes by the retention options.
func (s *Store) Append(d consensus.Decided) error { return s.AppendAll([]consensus.Decided{d}) }

// AppendAll stores closed ledgers, in order, each checked as Append checks it against its
// predecessor, in one synced batch: a node catching up on a thousand fetched ledgers pays one
// fsync, not a thousand. Nothing is stored if any ledger fails its check.
func (s *Store) AppendAll(ds []consensus.Decided) error {
	if len(ds) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	prev := s.tip
	var rb []byte
	for i := range ds {
		r := &ds[i].Record
		if err := consensus.VerifyRecordWith(s.opts.Verify, s.contractID, &prev, r); err != nil {
			return fmt.Errorf("append ledger %d: %w", r.Seq, err)
		}
		ins := ds[i].Inputs
		if len(ins) != len(r.Value.Inputs) {
			return fmt.Errorf("append ledger %d: %d inputs for %d input hashes", r.Seq, len(ins), len(r.Value.Inputs))
		}
		for j := range ins {
			if ins[j].Ordered() != r.Value.Inputs[j] {
				return fmt.Errorf("append ledger %d: input %d does not match the record", r.Seq, j)
			}
		}
		rb, _ = r.MarshalBinary()
		_ = b.Set(key(kindRecord, r.Seq), rb, nil)
		if len(ins) > 0 {
			ib, err := (&consensus.Message{Type: consensus.MsgInputBatch, Inputs: ins}).MarshalBinary()
			if err != nil {
				return fmt.Errorf("append ledger %d: encode inputs: %w", r.Seq, err)
			}
			_ = b.Set(key(kindInputs, r.Seq), ib, nil)
		}
		prev = *r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.first
	if s.tip.Seq == s.genesis.Seq {
		s.first = ds[0].Record.Seq
	}
	s.prune(b, prev.Seq)
	if err := b.Commit(s.writeOpts()); err != nil {
		s.first = first
		return fmt.Errorf("append ledgers %d..%d: %w", ds[0].Record.Seq, prev.Seq, err)
	}
	var tip consensus.Record
	if err := tip.UnmarshalBinary(rb); err != nil {
		return fmt.Errorf("append ledger %d: re-decode: %w", prev.Seq, err)
	}
	s.tip = tip // a private copy: the caller may reuse ds
	return nil
}

// prune adds deletions to b so that, once tip is seq, only the retained ranges remain.
func (s *Store) prune(b *pebble.Batch, tip uint64) {
	if k := s.opts.KeepRecords; k != 0 && tip > k {
		cut := tip - k + 1 // first record kept
		if cut > s.first {
			_ = b.DeleteRange(key(kindRecord, 1), key(kindRecord, cut), nil)
			s.first = cut
		}
	}
	if k := s.opts.KeepRaw; k != 0 && tip > k {
		cut := tip - k + 1
		_ = b.DeleteRange(key(kindInputs, 1), key(kindInputs, cut), nil)
		_ = b.DeleteRange(key(kindOutputs, 1), key(kindOutputs, cut), nil)
	}
}

// Record returns the record at seq (genesis's own Seq, normally 0, is genesis).
func (s *Store) Record(seq uint64) (consensus.Record, error) {
	if g := s.Genesis(); seq == g.Seq {
		return g, nil
	}
	b, err := s.get(key(kindRecord, seq))
	if err != nil {
		return consensus.Record{}, fmt.Errorf("ledger %d: %w", seq, err)
	}
	var r consensus.Record
	if err := r.UnmarshalBinary(b); err != nil {
		return consensus.Record{}, fmt.Errorf("decode ledger %d: %w", seq, err)
	}
	return r, nil
}

// Inputs returns the raw inputs of ledger seq in ledger order.
func (s *Store) Inputs(seq uint64) ([]consensus.Input, error) {
	r, err := s.Record(seq)
	if err != nil {
		return nil, err
	}
	if len(r.Value.Inputs) == 0 {
		return nil, nil
	}
	b, err := s.get(key(kindInputs, seq))
	if err != nil {
		return nil, fmt.Errorf("inputs of ledger %d: %w", seq, err)
	}
	var m consensus.Message
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("decode inputs of ledger %d: %w", seq, err)
	}
	return m.Inputs, nil
}
