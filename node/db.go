package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/ledger"
)

// nodeDB is hpnode's own storage (never hpfsd's): the ledger chain (package ledger: certified
// records, raw inputs and outputs) and a small pebble store of what only this node needs to resume
// consensus: the genesis it started from, consensus's hard state and its last execution result.
//
// Meta keys: "genesis" (consensus.Record binary), "hard" (consensus.HardState JSON), "result"
// (consensus.Result JSON), "reanchor" (consensus.Record binary, only while a re-anchor is in
// progress: reanchor.go).
type nodeDB struct {
	chain *ledger.Store
	meta  *pebble.DB
}

// historyLen is how many recent ledgers are handed back to consensus at restart.
const historyLen = 16

// loaded is what a restart resumes from.
type loaded struct {
	tip       consensus.Record
	tipInputs []consensus.Input
	history   []consensus.Decided
	result    consensus.Result
	hard      consensus.HardState
}

// openNodeDB opens the node's stores under dir. A fresh node (no genesis yet) takes genesis
// (ignored on later opens: the stored one is used).
func openNodeDB(dir, contractID string, genesis consensus.Record, keep uint64, logger *slog.Logger) (*nodeDB, bool, error) {
	meta, err := pebble.Open(filepath.Join(dir, "meta"), &pebble.Options{Logger: ledger.PebbleLogger(logger)})
	if err != nil {
		return nil, false, fmt.Errorf("open node store: %w", err)
	}
	fresh := false
	data, closer, err := meta.Get([]byte("genesis"))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		fresh = true
		b, err := genesis.MarshalBinary()
		if err != nil {
			meta.Close()
			return nil, false, err
		}
		if err := meta.Set([]byte("genesis"), b, pebble.Sync); err != nil {
			meta.Close()
			return nil, false, fmt.Errorf("node store: %w", err)
		}
	case err != nil:
		meta.Close()
		return nil, false, fmt.Errorf("node store: %w", err)
	default:
		err := genesis.UnmarshalBinary(data)
		closer.Close()
		if err != nil {
			meta.Close()
			return nil, false, fmt.Errorf("node store: genesis: %w", err)
		}
	}
	open := func(g consensus.Record) (*ledger.Store, error) {
		return ledger.Open(filepath.Join(dir, "chain"), contractID, g, ledger.Options{KeepRecords: keep, Logger: logger})
	}
	var chain *ledger.Store
	if pending, closer, perr := meta.Get([]byte(pendingGenesisKey)); perr == nil {
		p := append([]byte(nil), pending...)
		closer.Close()
		chain, _, err = openReanchoredChain(meta, p, open, genesis)
	} else if errors.Is(perr, pebble.ErrNotFound) {
		chain, err = open(genesis)
	} else {
		err = fmt.Errorf("node store: %w", perr)
	}
	if err != nil {
		meta.Close()
		return nil, false, err
	}
	return &nodeDB{chain: chain, meta: meta}, fresh, nil
}

func (d *nodeDB) close() error {
	err := d.chain.Close()
	if merr := d.meta.Close(); err == nil {
		err = merr
	}
	return err
}

func (d *nodeDB) load() (loaded, error) {
	st := loaded{tip: d.chain.Tip()}
	hist, err := d.chain.History(historyLen)
	if err != nil {
		return st, err
	}
	st.history = hist
	if st.tip.Seq > 0 {
		if st.tipInputs, err = d.chain.Inputs(st.tip.Seq); err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return st, err
		}
	}
	if err := d.getJSON("result", &st.result); err != nil {
		return st, fmt.Errorf("node store: result: %w", err)
	}
	if err := d.getJSON("hard", &st.hard); err != nil && !errors.Is(err, pebble.ErrNotFound) {
		return st, fmt.Errorf("node store: hard state: %w", err)
	}
	return st, nil
}

// persist makes the closed ledgers and the hard state durable: consensus requires both before
// the Ready's messages are sent.
func (d *nodeDB) persist(hard *consensus.HardState, ledgers []consensus.Decided) error {
	for i := range ledgers {
		if ledgers[i].Record.Seq <= d.chain.Tip().Seq {
			continue // already stored (genesis, or a ledger learned twice)
		}
		if err := d.chain.Append(ledgers[i]); err != nil {
			return err
		}
	}
	if hard == nil {
		return nil
	}
	return d.setJSON("hard", hard)
}

// saveResult records this node's latest execution result.
func (d *nodeDB) saveResult(r consensus.Result) error { return d.setJSON("result", r) }

func (d *nodeDB) setJSON(key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := d.meta.Set([]byte(key), data, pebble.Sync); err != nil {
		return fmt.Errorf("node store %s: %w", key, err)
	}
	return nil
}

func (d *nodeDB) getJSON(key string, v any) error {
	data, closer, err := d.meta.Get([]byte(key))
	if err != nil {
		return err
	}
	defer closer.Close()
	return json.Unmarshal(data, v)
}

// decided returns ledger seq with its inputs, or nil if it is not kept.
func (d *nodeDB) decided(seq uint64) (*consensus.Decided, error) {
	var rec consensus.Record
	if seq == 0 {
		rec = d.chain.Genesis()
	} else {
		r, err := d.chain.Record(seq)
		if errors.Is(err, ledger.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		rec = r
	}
	ins, err := d.chain.Inputs(seq)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return nil, err
	}
	return &consensus.Decided{Record: rec, Inputs: ins}, nil
}
