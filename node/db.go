package node

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/userapi"
)

// nodeDB is hpnode's own pebble store (never hpfsd's): the closed ledgers with their raw inputs,
// the outputs of each execution, consensus's hard state and this node's last execution result.
//
// Key layout (sequence numbers 8-byte big-endian, so keys sort by sequence):
//
//	"d" seq  a closed ledger with its raw inputs (consensus MsgLedgerResponse encoding)
//	"o" seq  the outputs this node's execution of ledger seq produced (JSON)
//	"hard"   consensus.HardState (JSON)
//	"result" the last execution result (JSON)
type nodeDB struct {
	db   *pebble.DB
	keep uint64 // ledgers kept; 0 keeps all
}

// historyLen is how many recent ledgers are handed back to consensus at restart.
const historyLen = 16

func openNodeDB(dir string, keep uint64) (*nodeDB, error) {
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		return nil, fmt.Errorf("open ledger store %s: %w", dir, err)
	}
	return &nodeDB{db: db, keep: keep}, nil
}

func (d *nodeDB) close() error { return d.db.Close() }

func seqKey(prefix byte, seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// loaded is what a restart resumes from.
type loaded struct {
	fresh     bool
	tip       consensus.Record
	tipInputs []consensus.Input
	history   []consensus.Decided
	result    consensus.Result
	hard      consensus.HardState
}

func (d *nodeDB) load() (loaded, error) {
	var st loaded
	hist, err := d.lastDecided(historyLen)
	if err != nil {
		return st, err
	}
	if len(hist) == 0 {
		st.fresh = true
		return st, nil
	}
	st.history = hist
	last := hist[len(hist)-1]
	st.tip, st.tipInputs = last.Record, last.Inputs
	if err := d.getJSON([]byte("result"), &st.result); err != nil {
		return st, fmt.Errorf("ledger store: result: %w", err)
	}
	if err := d.getJSON([]byte("hard"), &st.hard); err != nil && !errors.Is(err, pebble.ErrNotFound) {
		return st, fmt.Errorf("ledger store: hard state: %w", err)
	}
	return st, nil
}

// persist writes the hard state and closed ledgers in one synced batch: consensus requires them
// durable before the Ready's messages are sent.
func (d *nodeDB) persist(hard *consensus.HardState, ledgers []consensus.Decided) error {
	if hard == nil && len(ledgers) == 0 {
		return nil
	}
	b := d.db.NewBatch()
	defer b.Close()
	if hard != nil {
		data, err := json.Marshal(hard)
		if err != nil {
			return err
		}
		if err := b.Set([]byte("hard"), data, nil); err != nil {
			return err
		}
	}
	for i := range ledgers {
		dec := &ledgers[i]
		m := consensus.Message{Type: consensus.MsgLedgerResponse, Record: &dec.Record, Inputs: dec.Inputs}
		data, err := m.MarshalBinary()
		if err != nil {
			return fmt.Errorf("encode ledger %d: %w", dec.Record.Seq, err)
		}
		if err := b.Set(seqKey('d', dec.Record.Seq), data, nil); err != nil {
			return err
		}
		if d.keep > 0 && dec.Record.Seq >= d.keep {
			// Retention: drop everything older than the last keep ledgers (the genesis record
			// goes too; a syncing node then starts from a certificate-verified recent ledger).
			lo := dec.Record.Seq - d.keep + 1
			if err := b.DeleteRange(seqKey('d', 0), seqKey('d', lo), nil); err != nil {
				return err
			}
			if err := b.DeleteRange(seqKey('o', 0), seqKey('o', lo), nil); err != nil {
				return err
			}
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("ledger store: %w", err)
	}
	return nil
}

// saveResult records this node's latest execution result (synced).
func (d *nodeDB) saveResult(r consensus.Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := d.db.Set([]byte("result"), data, pebble.Sync); err != nil {
		return fmt.Errorf("ledger store: result: %w", err)
	}
	return nil
}

// storedOutput is one user's outputs of one execution.
type storedOutput struct {
	User    []byte   `json:"user"`
	Outputs [][]byte `json:"outputs"`
}

func (d *nodeDB) saveOutputs(seq uint64, outs []userapi.UserOutputs) error {
	rows := make([]storedOutput, len(outs))
	for i, o := range outs {
		rows[i] = storedOutput{User: o.User, Outputs: o.Outputs}
	}
	data, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	return d.db.Set(seqKey('o', seq), data, pebble.NoSync)
}

func (d *nodeDB) outputs(seq uint64) ([]storedOutput, error) {
	var rows []storedOutput
	err := d.getJSON(seqKey('o', seq), &rows)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	return rows, err
}

// decided returns ledger seq with its inputs, or nil if it is not stored.
func (d *nodeDB) decided(seq uint64) (*consensus.Decided, error) {
	data, closer, err := d.db.Get(seqKey('d', seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return decodeDecided(data)
}

func decodeDecided(data []byte) (*consensus.Decided, error) {
	var m consensus.Message
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("ledger store: %w", err)
	}
	if m.Type != consensus.MsgLedgerResponse || m.Record == nil {
		return nil, errors.New("ledger store: corrupt ledger entry")
	}
	return &consensus.Decided{Record: *m.Record, Inputs: m.Inputs}, nil
}

// lastDecided returns up to n newest ledgers, oldest first.
func (d *nodeDB) lastDecided(n int) ([]consensus.Decided, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'d'}, UpperBound: []byte{'d' + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []consensus.Decided
	for ok := it.Last(); ok && len(out) < n; ok = it.Prev() {
		dec, err := decodeDecided(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, *dec)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, it.Error()
}

func (d *nodeDB) getJSON(key []byte, v any) error {
	data, closer, err := d.db.Get(key)
	if err != nil {
		return err
	}
	defer closer.Close()
	return json.Unmarshal(data, v)
}
