package node

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/contractexec"
	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/outtree"
	"github.com/hpfs/hpnode/userapi"
)

// postExecTimeout bounds post_exec.sh (HotPocket waits forever).
const postExecTimeout = 60 * time.Second

// executor runs the contract for one closed ledger inside a hpfsd read-write session and turns
// what it did into the Result every node votes on. It is used by one goroutine at a time
// (consensus has at most one execution outstanding).
type executor struct {
	fs         stateFS
	contractID string
	pubHex     string // "ed" + hex
	privHex    string
	npl        *nplRouter
	sendNPL    func(l nplLedger, data []byte)
	contractIO *lineLogger
	logger     *slog.Logger
	// lastGood is the last valid patch config, used when patch.cfg in the state is unreadable, so
	// a contract that writes a broken patch.cfg cannot stop its own node.
	lastGood func() config.PatchConfig
}

// execOutcome is one execution: the Result for consensus and what users and the node need.
type execOutcome struct {
	result  consensus.Result
	tree    *outtree.Tree
	outputs []outtree.UserOutputs // users with at least one output, in key order
	control []contractexec.ControlMessage
	patch   config.PatchConfig // patch.cfg after the run
}

// execute runs ex. An error means the state could not be read or committed (an hpfsd failure);
// anything the contract does wrong (crash, limits, bad frames) is part of a normal outcome,
// because every honest node sees the same misbehaviour of a deterministic contract.
func (e *executor) execute(ctx context.Context, ex consensus.Execution) (execOutcome, error) {
	rec := &ex.Record
	if err := e.fs.begin(); err != nil {
		return execOutcome{}, fmt.Errorf("execute ledger %d: %w", rec.Seq, err)
	}
	patch := e.readPatch(filepath.Join(e.fs.rwState(), "..", "patch.cfg"))
	users, err := roundUsers(ex)
	if err != nil {
		_ = e.fs.rollback()
		return execOutcome{}, fmt.Errorf("execute ledger %d: %w", rec.Seq, err)
	}
	lclHash := rec.Hash()
	ledger := nplLedger{Seq: rec.Seq, Hash: lclHash}
	spec := contractexec.Spec{
		Dir:        e.fs.rwState(),
		Binary:     patch.BinPath,
		Args:       strings.Fields(patch.BinArgs),
		Env:        envList(patch.Environment),
		ContractID: e.contractID,
		PublicKey:  e.pubHex,
		PrivateKey: e.privHex,
		Timestamp:  rec.Value.Time,
		LCLSeq:     rec.Seq,
		LCLHash:    hex.EncodeToString(lclHash[:]),
		Users:      users,
		UNL:        unlNodes(patch, rec),
		Limits:     limits(patch.RoundLimits),
		NPLIn:      e.npl.inbox(ledger),
		NPLOut:     func(msg []byte) { e.sendNPL(ledger, msg) },
		Stdout:     e.contractIO.stream("stdout"),
		Stderr:     e.contractIO.stream("stderr"),
		Logger:     e.logger,
	}
	res, runErr := contractexec.Run(ctx, spec)
	e.npl.done(ledger)
	if ctx.Err() != nil {
		// Shutting down: the run was cut short by us, not by the contract. Keep nothing, so the
		// ledger is executed again in full after the restart.
		_ = e.fs.rollback()
		return execOutcome{}, fmt.Errorf("execute ledger %d: interrupted by shutdown: %w", rec.Seq, ctx.Err())
	}
	if runErr != nil {
		// Not runnable at all (missing binary, bad spec): every node with this patch.cfg fails
		// alike. The round's state is unchanged.
		e.logger.Warn("contract did not run", "ledger", rec.Seq, "err", runErr)
	} else if res.Completed() {
		if _, err := contractexec.RunPostExec(ctx, spec.Dir, rec.Seq, spec.LCLHash, postExecTimeout); err != nil {
			e.logger.Warn("post_exec.sh failed", "ledger", rec.Seq, "err", err)
		}
	} else {
		e.logger.Warn("contract ended abnormally", "ledger", rec.Seq, "summary", res.Summary())
	}
	ci, err := e.fs.commit()
	if err != nil {
		return execOutcome{}, fmt.Errorf("commit ledger %d: %w", rec.Seq, err)
	}
	out := execOutcome{control: res.Control}
	if out.result, err = resultOf(rec.Seq, ci.Root, ci.PatchHash); err != nil {
		return execOutcome{}, err
	}
	out.patch = e.readPatchCommitted(patch)
	out.result.Config = unlConfig(out.patch)
	var hashes []userapi.Hash
	for _, u := range res.Users {
		if len(u.Frames) == 0 {
			continue
		}
		key, err := config.ParsePublicKey(u.PublicKey)
		if err != nil {
			continue
		}
		out.outputs = append(out.outputs, outtree.UserOutputs{User: key, Outputs: u.Frames})
		hashes = append(hashes, outtree.UserHash(key, u.Frames))
	}
	out.tree = outtree.New(hashes, outtree.Hash(out.result.StateHash))
	out.result.OutputHash = consensus.Hash(out.tree.Root())
	return out, nil
}

// readPatch parses patch.cfg at path, falling back to the last good configuration.
func (e *executor) readPatch(path string) config.PatchConfig {
	data, err := os.ReadFile(path)
	if err == nil {
		p, perr := config.ParsePatch(data)
		if perr == nil {
			return p
		}
		err = perr
	}
	e.logger.Warn("patch.cfg unusable; running with the last good one", "err", err)
	return e.lastGood()
}

// readPatchCommitted reads patch.cfg as committed (through current/), keeping prev when the
// contract left it broken.
func (e *executor) readPatchCommitted(prev config.PatchConfig) config.PatchConfig {
	data, err := os.ReadFile(filepath.Join(e.fs.mount, "current", "patch.cfg"))
	if err != nil {
		return prev
	}
	p, err := config.ParsePatch(data)
	if err != nil {
		e.logger.Warn("contract wrote an invalid patch.cfg; it has no effect until fixed", "err", err)
		return prev
	}
	return p
}

func resultOf(seq uint64, rootHex, patchHex string) (consensus.Result, error) {
	root, err := merkle.ParseHash(rootHex)
	if err != nil {
		return consensus.Result{}, fmt.Errorf("hpfsd root %q: %w", rootHex, err)
	}
	patch, err := merkle.ParseHash(patchHex)
	if err != nil {
		return consensus.Result{}, fmt.Errorf("hpfsd patch hash %q: %w", patchHex, err)
	}
	// The voted state hash is the root of the whole tree (state/ and patch.cfg): it is what a
	// syncing node can fetch proofs against. The patch hash is voted separately, as on HotPocket.
	return consensus.Result{Seq: seq, StateHash: consensus.Hash(root), PatchHash: consensus.Hash(patch)}, nil
}

// roundUsers groups the ledger's inputs by user, in ledger order, and adds the round's users
// without inputs (they still get an output socket).
func roundUsers(ex consensus.Execution) ([]contractexec.User, error) {
	byUser := map[consensus.PubKey]*contractexec.User{}
	var order []consensus.PubKey
	add := func(k consensus.PubKey) *contractexec.User {
		u, ok := byUser[k]
		if !ok {
			u = &contractexec.User{PublicKey: config.EncodeKey(ed25519.PublicKey(k[:]))}
			byUser[k] = u
			order = append(order, k)
		}
		return u
	}
	for _, k := range ex.Record.Value.Users {
		add(k)
	}
	for i := range ex.Inputs {
		in := &ex.Inputs[i]
		data, _, _, err := userapi.ParseInputContainer(protocolOf(in.Protocol), in.Container)
		if err != nil {
			// Consensus admitted it, so its container parsed on the submitting node; a node that
			// cannot parse it now would diverge. Refuse loudly rather than guess.
			return nil, fmt.Errorf("input of %x: %w", in.User[:4], err)
		}
		u := add(in.User)
		u.Inputs = append(u.Inputs, data)
	}
	out := make([]contractexec.User, len(order))
	for i, k := range order {
		out[i] = *byUser[k]
	}
	return out, nil
}

// protocolOf maps consensus's container encoding (0 JSON, 1 BSON) to the user protocol's.
func protocolOf(p uint8) userapi.Protocol {
	if p == 1 {
		return userapi.BSON
	}
	return userapi.JSON
}

// unlNodes is the stdin "unl": every UNL member, active_on the ledger time for those whose vote
// closed the ledger. HotPocket uses each node's local receive time, which differs between nodes and
// so can make a contract non-deterministic; the certificate is the same everywhere.
func unlNodes(p config.PatchConfig, rec *consensus.Record) []contractexec.UNLNode {
	voted := map[string]bool{}
	for _, v := range rec.Cert {
		voted[config.EncodeKey(ed25519.PublicKey(v.Signer[:]))] = true
	}
	out := make([]contractexec.UNLNode, 0, len(p.UNL))
	for _, k := range p.UNL {
		pub, err := config.ParsePublicKey(k)
		if err != nil {
			continue
		}
		hexKey := config.EncodeKey(pub)
		n := contractexec.UNLNode{PublicKey: hexKey}
		if voted[hexKey] {
			n.ActiveOn = rec.Value.Time
		}
		out = append(out, n)
	}
	return out
}

// unlConfig is the part of patch.cfg consensus depends on.
func unlConfig(p config.PatchConfig) consensus.UNLConfig {
	c := consensus.UNLConfig{Threshold: uint8(min(max(p.Consensus.Threshold, 51), 100))}
	for _, k := range p.UNL {
		pub, err := config.ParsePublicKey(k)
		if err != nil {
			continue
		}
		c.UNL = append(c.UNL, consensus.PubKey(pub))
	}
	slices.SortFunc(c.UNL, func(a, b consensus.PubKey) int { return strings.Compare(string(a[:]), string(b[:])) })
	c.UNL = slices.Compact(c.UNL)
	return c
}

func limits(r config.RoundLimits) contractexec.Limits {
	return contractexec.Limits{
		CPUSeconds:      r.ProcCPUSeconds,
		MemoryBytes:     r.ProcMemBytes,
		OpenFiles:       r.ProcOFDCount,
		UserOutputBytes: r.UserOutputBytes,
		NPLOutputBytes:  r.NPLOutputBytes,
		Timeout:         time.Duration(r.ExecTimeout) * time.Millisecond,
	}
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
