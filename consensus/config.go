package consensus

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Config configures a Node. Zero durations take the documented defaults.
type Config struct {
	// ContractID is part of every signature's domain.
	ContractID string
	// Signer signs this node's proposals.
	Signer Signer
	// Verify checks peer signatures; default Ed25519Verify. It must match Signer's scheme.
	Verify SigVerifier
	// Rand is the only source of randomness (node nonces); seeded in the simulator.
	Rand io.Reader

	// Tip is the last closed ledger the node persisted (Genesis for a fresh node).
	Tip Record
	// Result is the node's execution result for Tip (Seq == Tip.Seq), or for Tip's predecessor
	// (Seq == Tip.Seq-1) when the node crashed before executing Tip; then TipInputs must hold Tip's
	// inputs and the node starts by asking to execute Tip again.
	Result Result
	// TipInputs are Tip's raw inputs, in ledger order.
	TipInputs []Input
	// History is optional recent closed ledgers (oldest first, ending at Tip) with their inputs; it
	// rebuilds the user nonce map after a restart and lets the node answer ledger requests.
	History []Decided
	// Hard is the persisted hard state (zero for a fresh node).
	Hard HardState

	// RoundTime is the idle heartbeat: with no pending inputs a round starts this long after the last
	// ledger closed. Default 1 s.
	RoundTime time.Duration
	// StageTimeout is the fallback wait of a stage that has not reached its quorum; round r waits
	// (r+1) times as long, up to 8 times. Default RoundTime/4.
	StageTimeout time.Duration
	// MaxInputLedgerOffset bounds MaxLedgerSeq - tip for submitted inputs; 0 means no bound.
	MaxInputLedgerOffset uint64
	// UserInputBytes bounds the input bytes one user may have pending and per ledger; 0 = no bound.
	UserInputBytes uint64
	// VerifyInput checks an input's user signature (and that its fields match its container).
	// Default VerifyUserSig.
	VerifyInput func(*Input) error
	// SubmitVerified declares that the caller checked the user signature of every input it hands
	// over in MsgSubmit (userapi does, before it answers the user), so admission does not check it
	// a second time on the loop that also carries proposals. Relayed inputs are always checked.
	SubmitVerified bool
	// KeepLedgers is how many recent ledgers the node keeps to answer ledger requests. Default 16.
	KeepLedgers int
	// Logger receives one line per round outcome; default discards.
	Logger *slog.Logger
}

// HardState is what a node must persist before sending the messages of a Ready, so that a restart
// never makes it vote against itself: the round it reached and the value it is locked on.
type HardState struct {
	Seq   uint64
	Round uint32
	// Locked reports whether Lock holds a value that had a stage-2 quorum in LockRound.
	Locked    bool
	LockRound uint32
	Lock      Value
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("consensus: invalid config")

// ValidateConfig checks a UNL configuration: 1..MaxUNL strictly sorted keys and a threshold in
// 51..100 (a threshold above one half is what makes two quorums intersect).
func ValidateConfig(c UNLConfig) error {
	if len(c.UNL) == 0 || len(c.UNL) > MaxUNL {
		return fmt.Errorf("%w: unl has %d keys, want 1..%d", ErrConfig, len(c.UNL), MaxUNL)
	}
	for i := 1; i < len(c.UNL); i++ {
		if string(c.UNL[i-1][:]) >= string(c.UNL[i][:]) {
			return fmt.Errorf("%w: unl not strictly sorted at %d", ErrConfig, i)
		}
	}
	if c.Threshold < 51 || c.Threshold > 100 {
		return fmt.Errorf("%w: threshold %d, want 51..100", ErrConfig, c.Threshold)
	}
	return nil
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Signer == nil {
		return fmt.Errorf("%w: Signer is nil", ErrConfig)
	}
	if c.Rand == nil {
		return fmt.Errorf("%w: Rand is nil", ErrConfig)
	}
	if len(c.ContractID) == 0 || len(c.ContractID) > MaxContractID {
		return fmt.Errorf("%w: ContractID length %d, want 1..%d", ErrConfig, len(c.ContractID), MaxContractID)
	}
	if err := ValidateConfig(c.Tip.Value.Result.Config); err != nil {
		return fmt.Errorf("tip config: %w", err)
	}
	switch {
	case c.Result.Seq == c.Tip.Seq:
	case c.Tip.Seq > 0 && c.Result.Seq == c.Tip.Seq-1:
		if len(c.TipInputs) != len(c.Tip.Value.Inputs) {
			return fmt.Errorf("%w: TipInputs has %d inputs, tip has %d", ErrConfig, len(c.TipInputs), len(c.Tip.Value.Inputs))
		}
		for i := range c.TipInputs {
			if c.TipInputs[i].Ordered() != c.Tip.Value.Inputs[i] {
				return fmt.Errorf("%w: TipInputs[%d] is not the tip's input", ErrConfig, i)
			}
		}
	default:
		return fmt.Errorf("%w: Result.Seq %d for tip %d", ErrConfig, c.Result.Seq, c.Tip.Seq)
	}
	if c.RoundTime < 0 || c.StageTimeout < 0 || c.KeepLedgers < 0 {
		return fmt.Errorf("%w: negative duration or count", ErrConfig)
	}
	if c.RoundTime == 0 {
		c.RoundTime = time.Second
	}
	if c.StageTimeout == 0 {
		c.StageTimeout = c.RoundTime / 4
	}
	if c.KeepLedgers == 0 {
		c.KeepLedgers = 16
	}
	if c.Verify == nil {
		c.Verify = Ed25519Verify
	}
	if c.VerifyInput == nil {
		c.VerifyInput = VerifyUserSig
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
