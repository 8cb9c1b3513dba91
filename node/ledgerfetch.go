package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/p2p"
)

// kindLedgerFetch is the p2p request kind of ledger sync: a node asks a peer for closed ledgers
// (records with their certificates and raw inputs) and verifies them itself.
const kindLedgerFetch p2p.Kind = 20

// Wire format, version 1 (big-endian):
//
//	request:  0x01 | from u64 | count u32      from = fetchTip asks for the tip and its predecessor
//	response: 0x01 | n u32 | n × (len u32 | consensus MsgLedgerResponse encoding)
const (
	fetchVersion = 1
	// fetchTip in a request's from field asks for the peer's last two ledgers.
	fetchTip = math.MaxUint64
	// maxFetch bounds the ledgers in one response.
	maxFetch = 64
	// maxFetchResponse bounds a response's bytes (a ledger holds at most a round's inputs).
	maxFetchResponse = 64 << 20
)

var errBadFetch = errors.New("ledger fetch: malformed message")

func encodeFetchRequest(from uint64, count uint32) []byte {
	b := make([]byte, 13)
	b[0] = fetchVersion
	binary.BigEndian.PutUint64(b[1:], from)
	binary.BigEndian.PutUint32(b[9:], count)
	return b
}

func decodeFetchRequest(b []byte) (from uint64, count uint32, err error) {
	if len(b) != 13 || b[0] != fetchVersion {
		return 0, 0, fmt.Errorf("%w: request of %d bytes", errBadFetch, len(b))
	}
	from, count = binary.BigEndian.Uint64(b[1:]), binary.BigEndian.Uint32(b[9:])
	if count > maxFetch {
		return 0, 0, fmt.Errorf("%w: count %d over %d", errBadFetch, count, maxFetch)
	}
	return from, count, nil
}

func encodeFetchResponse(ds []consensus.Decided) ([]byte, error) {
	b := []byte{fetchVersion, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(ds)))
	for i := range ds {
		m := consensus.Message{Type: consensus.MsgLedgerResponse, Record: &ds[i].Record, Inputs: ds[i].Inputs}
		enc, err := m.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode ledger %d: %w", ds[i].Record.Seq, err)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(enc)))
		b = append(b, enc...)
	}
	return b, nil
}

func decodeFetchResponse(b []byte) ([]consensus.Decided, error) {
	if len(b) < 5 || b[0] != fetchVersion {
		return nil, fmt.Errorf("%w: response header", errBadFetch)
	}
	n := binary.BigEndian.Uint32(b[1:])
	if n > maxFetch {
		return nil, fmt.Errorf("%w: %d ledgers over %d", errBadFetch, n, maxFetch)
	}
	b = b[5:]
	out := make([]consensus.Decided, 0, n)
	for range n {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: truncated", errBadFetch)
		}
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return nil, fmt.Errorf("%w: ledger of %d bytes, %d left", errBadFetch, l, len(b)-4)
		}
		var m consensus.Message
		if err := m.UnmarshalBinary(b[4 : 4+l]); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadFetch, err)
		}
		if m.Type != consensus.MsgLedgerResponse || m.Record == nil {
			return nil, fmt.Errorf("%w: not a ledger", errBadFetch)
		}
		out = append(out, consensus.Decided{Record: *m.Record, Inputs: m.Inputs})
		b = b[4+l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadFetch, len(b))
	}
	return out, nil
}

// serveLedgers answers ledger fetches from this node's chain.
func (n *Node) serveLedgers(_ context.Context, _ p2p.PeerID, req []byte) ([]byte, error) {
	from, count, err := decodeFetchRequest(req)
	if err != nil {
		return nil, err
	}
	var ds []consensus.Decided
	if from == fetchTip {
		tip := n.db.chain.Tip().Seq
		if tip == 0 {
			return encodeFetchResponse(nil)
		}
		from, count = tip-1, 2
	}
	for seq := from; seq < from+uint64(count); seq++ {
		d, err := n.db.decided(seq)
		if err != nil {
			return nil, err
		}
		if d == nil {
			break
		}
		ds = append(ds, *d)
	}
	return encodeFetchResponse(ds)
}
