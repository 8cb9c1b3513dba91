package contractexec

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"time"
)

// ErrInvalidSpec is wrapped by every error Run returns for a Spec it refuses before starting anything.
var ErrInvalidSpec = errors.New("contractexec: invalid spec")

// Spec is everything one contract execution needs: what to run, where, the HotPocket arguments it
// receives on stdin, its limits, and the NPL plumbing of the round.
type Spec struct {
	// Dir is the contract's working directory: a hpfs session's state/ directory, so that the contract
	// sees its config at ../patch.cfg.
	Dir string
	// Binary is the contract executable (patch.cfg bin_path). A relative path is taken relative to Dir.
	Binary string
	// Args are the arguments after argv[0] (patch.cfg bin_args, already split).
	Args []string
	// Env is the configured environment ("KEY=value"). PATH is added when Env has none; see DefaultPath.
	Env []string
	// RunAs, if set, is the user and group the contract runs as (hp.cfg contract.run_as "uid:gid");
	// nil runs it as the node's own user. Changing user needs the node to be root (CAP_SETUID).
	RunAs *syscall.Credential

	// ContractID is the contract id (stdin "contract_id").
	ContractID string
	// PublicKey is the node's public key hex, "ed" + 64 hex (stdin "public_key").
	PublicKey string
	// PrivateKey is the node's secret key hex, "ed" + 128 hex (stdin "private_key").
	PrivateKey string
	// Timestamp is the consensus time in unix milliseconds. Ignored (sent as 0) when Readonly.
	Timestamp uint64
	// Readonly selects read-request mode: no NPL fd, no lcl fields, timestamp 0, and exactly one user
	// with exactly one input (the request); each output frame is one reply.
	Readonly bool
	// LCLSeq and LCLHash (hex) identify the last closed ledger the round executes on. Not sent when Readonly.
	LCLSeq  uint64
	LCLHash string

	// Users are the round's consensed users with their inputs, in any order (the stdin JSON lists them
	// sorted by binary public key, as HotPocket does). A user without inputs still gets an output socket.
	Users []User
	// UNL is the node list with the time each member was last active (stdin "unl").
	UNL []UNLNode

	// Limits bounds the execution; the zero value means unlimited except Timeout (see Limits).
	Limits Limits

	// NPLIn is the round's inbox of NPL messages from UNL peers. Messages pushed before Run starts are
	// buffered in it and delivered once the contract runs. Nil means no incoming NPL. Ignored when Readonly.
	NPLIn *NPLInbox
	// NPLOut, if set, is called (from one goroutine, in order) with each NPL message the contract sends,
	// so the node can broadcast it while the contract still runs. Result.NPL holds them too.
	NPLOut func(msg []byte)

	// Stdout and Stderr receive the contract's stdout and stderr; nil discards them. The last
	// StderrTailBytes of stderr are also kept in Result.StderrTail.
	Stdout io.Writer
	Stderr io.Writer

	// Logger receives one line per execution and per limit hit; nil uses slog.Default().
	Logger *slog.Logger
}

// User is one user of the round with its inputs in consensus order.
type User struct {
	// PublicKey is the user's public key hex ("ed" + 64 hex for ed25519 users).
	PublicKey string
	// Inputs are the raw input payloads.
	Inputs [][]byte
}

// UNLNode is one UNL member as the contract sees it.
type UNLNode struct {
	// PublicKey is the node's public key hex.
	PublicKey string
	// ActiveOn is the unix-ms time the node's last proposal was received.
	ActiveOn uint64
}

// Limits are the round limits of patch.cfg (round_limits). Zero means unlimited, except Timeout,
// where zero means DefaultTimeout (HotPocket's exec_timeout default).
type Limits struct {
	// CPUSeconds is RLIMIT_CPU (proc_cpu_seconds).
	CPUSeconds uint64
	// MemoryBytes is RLIMIT_DATA (proc_mem_bytes).
	MemoryBytes uint64
	// OpenFiles is how many files the contract may open beyond the fds the ABI hands it
	// (proc_ofd_count). RLIMIT_NOFILE is set to the highest ABI fd + 1 + OpenFiles, so a round with
	// many users does not eat the contract's own budget.
	OpenFiles uint64
	// UserOutputBytes caps the bytes read from each user's output socket (user_output_bytes). Past it
	// the socket is closed, as HotPocket does: frames already complete are kept.
	UserOutputBytes uint64
	// NPLOutputBytes caps the NPL bytes the contract may send (npl_output_bytes). Past it the NPL
	// socket is closed and the message that crossed the limit is not sent.
	NPLOutputBytes uint64
	// Timeout is the wall-clock limit (exec_timeout); the whole process group gets SIGKILL.
	Timeout time.Duration
}

// DefaultTimeout is HotPocket's default exec_timeout.
const DefaultTimeout = 300 * time.Second

// validate checks what Run relies on, naming the field and the problem.
func (s *Spec) validate() error {
	if s.Dir == "" {
		return fmt.Errorf("%w: Dir is empty", ErrInvalidSpec)
	}
	if s.Binary == "" {
		return fmt.Errorf("%w: Binary is empty", ErrInvalidSpec)
	}
	for i, kv := range s.Env {
		if !strings.Contains(kv, "=") || strings.HasPrefix(kv, "=") {
			return fmt.Errorf("%w: Env[%d] %q is not KEY=value", ErrInvalidSpec, i, kv)
		}
	}
	if s.Readonly {
		if len(s.Users) != 1 || len(s.Users[0].Inputs) != 1 {
			return fmt.Errorf("%w: Readonly needs exactly one user with one input, got %d users", ErrInvalidSpec, len(s.Users))
		}
	}
	seen := make(map[string]bool, len(s.Users))
	for i, u := range s.Users {
		if u.PublicKey == "" {
			return fmt.Errorf("%w: Users[%d] has an empty PublicKey", ErrInvalidSpec, i)
		}
		if seen[u.PublicKey] {
			return fmt.Errorf("%w: Users[%d] repeats PublicKey %s", ErrInvalidSpec, i, u.PublicKey)
		}
		seen[u.PublicKey] = true
	}
	for i, n := range s.UNL {
		if n.PublicKey == "" {
			return fmt.Errorf("%w: UNL[%d] has an empty PublicKey", ErrInvalidSpec, i)
		}
	}
	if s.LCLHash != "" {
		if _, err := hex.DecodeString(s.LCLHash); err != nil {
			return fmt.Errorf("%w: LCLHash is not hex: %v", ErrInvalidSpec, err)
		}
	}
	if s.Limits.Timeout < 0 {
		return fmt.Errorf("%w: Limits.Timeout %v is negative", ErrInvalidSpec, s.Limits.Timeout)
	}
	return nil
}

func (s *Spec) timeout() time.Duration {
	if s.Limits.Timeout == 0 {
		return DefaultTimeout
	}
	return s.Limits.Timeout
}

func (s *Spec) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}
