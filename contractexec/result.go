package contractexec

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// Result is what one execution produced and how it ended. Run fills it even when the contract
// misbehaves: a crash, a limit hit or a broken frame is reported here, not as an error.
type Result struct {
	// Users holds one entry per Spec.Users element, in Spec order.
	Users []UserOutput
	// NPL are the NPL messages the contract sent, in order (each one SEQPACKET).
	NPL [][]byte
	// Control are the control messages the contract sent, in order.
	Control []ControlMessage
	// Exit is how the contract process ended.
	Exit ExitStatus
	// Usage is the contract process tree's resource usage (wait4 rusage of the contract and the
	// children it waited for).
	Usage Usage
	// LimitsHit lists each limit that was hit, in the order detected. Empty when none was.
	LimitsHit []Limit
	// StdinUnread is true when the contract exited (or closed stdin) before reading all its arguments.
	StdinUnread bool
	// OutputCutOff is true when a process that escaped the contract's process group (setsid) still
	// held its sockets drainGrace (2 s) after the contract ended; what it wrote later was discarded.
	OutputCutOff bool
	// NPLDropped counts incoming NPL messages not delivered: over 128 KiB, or left when the contract ended.
	NPLDropped int
	// StderrHead and StderrTail are the first and the last StderrTailBytes bytes the contract wrote
	// to stderr, for diagnostics: a runtime's fatal message comes first and can be followed by
	// pages of stack dump. They overlap when stderr was shorter than 2*StderrTailBytes.
	StderrHead, StderrTail []byte
	// Elapsed is the wall-clock time from start to the end of output collection.
	Elapsed time.Duration
}

// StderrTailBytes is how much of the start and of the end of the contract's stderr Result keeps.
const StderrTailBytes = 4096

// UserOutput is what the contract wrote to one user's socket.
type UserOutput struct {
	// PublicKey is the user's key as given in Spec.
	PublicKey string
	// Frames are the complete length-prefixed messages, in the order written. In readonly mode each
	// frame is one reply to the read request.
	Frames [][]byte
	// Bytes counts every byte read from the socket, headers included.
	Bytes uint64
	// LimitHit is true when the socket was closed at Limits.UserOutputBytes.
	LimitHit bool
	// Incomplete is the error for a frame cut short (by exit, kill or the output limit), or nil.
	Incomplete error
}

// ExitStatus says how the contract process ended.
type ExitStatus struct {
	// Exited is true when the process called exit (any code); false when a signal ended it.
	Exited bool
	// Code is the exit code when Exited.
	Code int
	// Signal is the terminating signal when !Exited.
	Signal syscall.Signal
}

// Normal reports whether the process exited by itself with code 0.
func (e ExitStatus) Normal() bool { return e.Exited && e.Code == 0 }

// String renders the status for logs and error messages.
func (e ExitStatus) String() string {
	if e.Exited {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return "killed by signal " + e.Signal.String()
}

// Usage is resource usage as reported by wait4.
type Usage struct {
	// User and System are the CPU time spent in user and kernel mode.
	User, System time.Duration
	// MaxRSS is the peak resident set size in bytes. It is an upper bound: Go starts children with
	// vfork, the child shares the node's memory until exec, and Linux carries that high-water mark
	// into the child's, so a value near the node's own RSS says nothing about the contract.
	MaxRSS int64
}

// Limit names one enforced round limit.
type Limit int

// The limits Run enforces and reports, one per Limits field.
const (
	LimitTimeout    Limit = iota + 1 // Limits.Timeout: the process group was SIGKILLed
	LimitCPU                         // Limits.CPUSeconds: SIGXCPU, or SIGKILL at the hard limit
	LimitMemory                      // Limits.MemoryBytes: an allocation failed (see rlimitsHit)
	LimitOpenFiles                   // Limits.OpenFiles: an open failed with EMFILE
	LimitUserOutput                  // Limits.UserOutputBytes: a user's socket was closed
	LimitNPLOutput                   // Limits.NPLOutputBytes: the NPL socket was closed
)

// String is the limit's patch.cfg round_limits key.
func (l Limit) String() string {
	switch l {
	case LimitTimeout:
		return "exec_timeout"
	case LimitCPU:
		return "proc_cpu_seconds"
	case LimitMemory:
		return "proc_mem_bytes"
	case LimitOpenFiles:
		return "proc_ofd_count"
	case LimitUserOutput:
		return "user_output_bytes"
	case LimitNPLOutput:
		return "npl_output_bytes"
	}
	return fmt.Sprintf("limit(%d)", int(l))
}

// Completed reports whether the contract ended by itself, which is when HotPocket runs post_exec.sh:
// it exited (with any code, HotPocket's rule) or died of SIGINT, and no limit was hit. SIGINT
// counts because it is how the nodejs library's forceTerminate ends the process, and NPL contracts
// must use it (the library's pending NPL read keeps node alive otherwise); hpnode never sends it.
func (r *Result) Completed() bool {
	return len(r.LimitsHit) == 0 && (r.Exit.Exited || r.Exit.Signal == syscall.SIGINT)
}

// Hit reports whether limit l was hit.
func (r *Result) Hit(l Limit) bool {
	for _, h := range r.LimitsHit {
		if h == l {
			return true
		}
	}
	return false
}

func (r *Result) addLimit(l Limit) {
	if !r.Hit(l) {
		r.LimitsHit = append(r.LimitsHit, l)
	}
}

// Summary is a one-line description of how the execution ended, for logs and test failures.
func (r *Result) Summary() string {
	var b strings.Builder
	b.WriteString(r.Exit.String())
	if len(r.LimitsHit) > 0 {
		b.WriteString(", limits hit:")
		for _, l := range r.LimitsHit {
			b.WriteString(" " + l.String())
		}
	}
	if r.StdinUnread {
		b.WriteString(", stdin unread")
	}
	for _, u := range r.Users {
		if u.Incomplete != nil {
			fmt.Fprintf(&b, ", user %.10s: %v", u.PublicKey, u.Incomplete)
		}
	}
	return b.String()
}
