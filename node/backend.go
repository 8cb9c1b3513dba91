package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/contractexec"
	"github.com/hpfs/hpnode/ledger"
	"github.com/hpfs/hpnode/outtree"
	"github.com/hpfs/hpnode/userapi"
)

// backend is what the node offers the user server.
type backend struct{ n *Node }

var _ userapi.Backend = (*backend)(nil)

// SubmitInput checks the ledger window at once (so an expired input is rejected without a round
// trip) and queues the input for consensus, which admits it and reports its fate as an event.
func (b *backend) SubmitInput(ctx context.Context, in userapi.Input) error {
	n := b.n
	lcl := n.view.lcl()
	if err := userapi.CheckLedgerWindow(lcl.Seq, in.MaxLedgerSeq, uint64(n.config().Contract.MaxInputLedgerOffset)); err != nil {
		return err
	}
	if len(in.Sig) != ed25519.SignatureSize || len(in.User) != ed25519.PublicKeySize {
		return userapi.Reject(userapi.ReasonBadSig)
	}
	ci := consensus.Input{
		User:         consensus.PubKey(in.User),
		Nonce:        in.Nonce,
		MaxLedgerSeq: in.MaxLedgerSeq,
		Container:    in.Container,
		Sig:          [64]byte(in.Sig),
	}
	if in.Protocol == userapi.BSON {
		ci.Protocol = 1
	}
	select {
	case n.steps <- consensus.Message{Type: consensus.MsgSubmit, Inputs: []consensus.Input{ci}}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readSessions names read-only hpfsd sessions uniquely within a run.
type readSessions struct{ next atomic.Uint64 }

func (r *readSessions) name() string { return fmt.Sprintf("read-%d", r.next.Add(1)) }

// Read runs the contract in readonly mode on a read-only session of the latest committed state.
func (b *backend) Read(ctx context.Context, user ed25519.PublicKey, content []byte) ([][]byte, error) {
	n := b.n
	name := n.reads.name()
	if err := n.fs.roOpen(name, ""); err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	defer func() {
		if err := n.fs.roClose(name); err != nil {
			n.logger.Warn("close read session", "name", name, "err", err)
		}
	}()
	patch := n.lastGoodPatch()
	if data, err := os.ReadFile(filepath.Join(n.fs.mount, name, "patch.cfg")); err == nil {
		if p, err := config.ParsePatch(data); err == nil {
			patch = p
		}
	}
	cfg := n.config()
	res, err := contractexec.Run(ctx, contractexec.Spec{
		Dir:        n.fs.roState(name),
		Binary:     patch.BinPath,
		Args:       strings.Fields(patch.BinArgs),
		Env:        envList(patch.Environment),
		ContractID: cfg.Contract.ID,
		PublicKey:  cfg.Node.PublicKey,
		PrivateKey: cfg.Node.PrivateKey,
		Readonly:   true,
		Users:      []contractexec.User{{PublicKey: config.EncodeKey(user), Inputs: [][]byte{content}}},
		Limits:     limits(patch.RoundLimits),
		Stdout:     n.exec.contractIO.stream("stdout"),
		Stderr:     n.exec.contractIO.stream("stderr"),
		Logger:     n.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	if len(res.Users) == 0 {
		return nil, errors.New("read request: contract produced no user channel")
	}
	return res.Users[0].Frames, nil
}

// Stat is the node's status for stat_response.
func (b *backend) Stat(context.Context) (userapi.Stat, error) {
	n := b.n
	v := n.view.snapshot()
	cfg := n.config()
	st := userapi.Stat{
		LCL:                      userapi.LedgerID{Seq: v.tip.Seq, Hash: userapi.Hash(v.tipHash)},
		VoteStatus:               v.status.String(),
		RoundTime:                cfg.Contract.Consensus.RoundTime,
		ContractExecutionEnabled: cfg.Contract.Execute,
		ReadRequestsEnabled:      true,
		IsFullHistoryNode:        cfg.Node.History == "full",
		CurrentUNL:               n.view.unlKeys(),
	}
	for _, p := range n.mesh.Peers() {
		if p.Addr != nil {
			st.Peers = append(st.Peers, p.Addr.String())
		}
	}
	st.WeaklyConnected = len(st.Peers) < len(st.CurrentUNL)/2
	return st, nil
}

// LCL is the last closed ledger.
func (b *backend) LCL(context.Context) (userapi.LedgerID, error) { return b.n.view.lcl(), nil }

// UNL is the current UNL.
func (b *backend) UNL(context.Context) ([]ed25519.PublicKey, error) { return b.n.view.unlKeys(), nil }

// LedgerBySeq answers ledger_query. In private consensus mode a user sees only its own raw
// inputs and outputs, as on HotPocket.
func (b *backend) LedgerBySeq(_ context.Context, user ed25519.PublicKey, seq uint64, inputs, outputs bool) (*userapi.Ledger, error) {
	n := b.n
	dec, err := n.db.decided(seq)
	if err != nil || dec == nil {
		return nil, err
	}
	l := userLedger(&dec.Record)
	private := n.config().Contract.Consensus.Mode != "public"
	mine := func(k []byte) bool { return !private || string(k) == string(user) }
	if inputs {
		l.HasInputs = true
		l.Inputs = []userapi.LedgerInput{}
		for i := range dec.Inputs {
			in := &dec.Inputs[i]
			if !mine(in.User[:]) {
				continue
			}
			data, nonce, _, err := userapi.ParseInputContainer(protocolOf(in.Protocol), in.Container)
			if err != nil {
				continue
			}
			l.Inputs = append(l.Inputs, userapi.LedgerInput{
				User: ed25519.PublicKey(append([]byte(nil), in.User[:]...)), Hash: userapi.Hash(in.Hash()),
				Nonce: nonce, Blob: data,
			})
		}
	}
	if outputs {
		l.HasOutputs = true
		l.Outputs = []userapi.LedgerOutput{}
		// The outputs recorded in ledger seq are those of executing seq-1 (see userLedger).
		rows, err := n.db.chain.Outputs(seq)
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return nil, err
		}
		for _, r := range rows {
			if !mine(r.User[:]) {
				continue
			}
			key := ed25519.PublicKey(append([]byte(nil), r.User[:]...))
			l.Outputs = append(l.Outputs, userapi.LedgerOutput{User: key, Hash: outtree.UserHash(key, r.Outputs), Blobs: r.Outputs})
		}
	}
	return &l, nil
}

// Subscribe registers fn for every event.
func (b *backend) Subscribe(fn func(userapi.Event)) (cancel func()) { return b.n.events.subscribe(fn) }
