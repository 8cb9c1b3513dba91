package node

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/nodedir"
)

// Hooks let tests and embedders observe a node (as HotStuff-rs's replica builder does). Each is
// called from the consensus loop: it must return quickly and must not call back into the node.
type Hooks struct {
	// OnLedger is called for every ledger this node closes or learns, in sequence order.
	OnLedger func(consensus.Decided)
	// OnVoteStatus is called when the vote status changes.
	OnVoteStatus func(consensus.VoteStatus)
	// OnUNLChange is called when an agreed patch.cfg changed the UNL, with the new UNL.
	OnUNLChange func([]ed25519.PublicKey)
	// OnExecuted is called after each contract execution with its result.
	OnExecuted func(consensus.Result)
}

// Builder constructs a Node for a node directory made by `hpnode new`.
type Builder struct {
	dir    string
	hpfsd  string
	logger *slog.Logger
	hooks  Hooks
}

// NewBuilder starts building the node of directory dir.
func NewBuilder(dir string) *Builder { return &Builder{dir: dir} }

// HPFSD sets the hpfsd binary (default: beside the running executable, else on PATH).
func (b *Builder) HPFSD(path string) *Builder { b.hpfsd = path; return b }

// Logger sets the node's logger (default slog.Default()).
func (b *Builder) Logger(l *slog.Logger) *Builder { b.logger = l; return b }

// OnLedger sets Hooks.OnLedger.
func (b *Builder) OnLedger(fn func(consensus.Decided)) *Builder { b.hooks.OnLedger = fn; return b }

// OnVoteStatus sets Hooks.OnVoteStatus.
func (b *Builder) OnVoteStatus(fn func(consensus.VoteStatus)) *Builder {
	b.hooks.OnVoteStatus = fn
	return b
}

// OnUNLChange sets Hooks.OnUNLChange.
func (b *Builder) OnUNLChange(fn func([]ed25519.PublicKey)) *Builder {
	b.hooks.OnUNLChange = fn
	return b
}

// OnExecuted sets Hooks.OnExecuted.
func (b *Builder) OnExecuted(fn func(consensus.Result)) *Builder { b.hooks.OnExecuted = fn; return b }

// Build loads and validates the node's configuration. Nothing is started until Run.
func (b *Builder) Build() (*Node, error) {
	l := nodedir.Layout{Root: b.dir}
	cfg, err := config.Load(l.HPCfg())
	if err != nil {
		return nil, err
	}
	pub, priv, err := cfg.Keys()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.HPCfg(), err)
	}
	bin, err := FindHPFSD(b.hpfsd)
	if err != nil {
		return nil, err
	}
	logger := b.logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Node{
		layout:   l,
		cfg:      cfg,
		pub:      pub,
		priv:     priv,
		hpfsdBin: bin,
		logger:   logger,
		hooks:    b.hooks,
	}, nil
}
