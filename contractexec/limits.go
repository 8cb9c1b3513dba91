package contractexec

import (
	"bytes"
	"syscall"
	"time"
)

// rlimitsHit infers which rlimit ended the contract. The kernel does not say which limit made an
// allocation or an open fail, so the rules are:
//   - CPU: killed by SIGXCPU (the soft limit; see rlimitCommands), or by a SIGKILL hpnode did not
//     send (the hard limit, one second later, for runtimes such as Go that ignore SIGXCPU) with CPU
//     time at the soft limit;
//   - memory: an abnormal end with a memory limit set and an out-of-memory message on stderr (Go's
//     "out of memory", V8's "allocation failed", libc's "Cannot allocate memory"). Peak RSS is no
//     evidence: the child inherits the node's RSS high-water mark from the fork (see Usage.MaxRSS);
//   - open files: an abnormal end with an open-files limit set and "too many open files" (EMFILE's
//     message, used by Go, node and libc alike) on stderr.
func rlimitsHit(l Limits, res *Result) []Limit {
	var hit []Limit
	cpu := res.Usage.User + res.Usage.System
	killedByUs := res.Hit(LimitTimeout)
	if l.CPUSeconds > 0 && !res.Exit.Exited && !killedByUs {
		if res.Exit.Signal == syscall.SIGXCPU ||
			(res.Exit.Signal == syscall.SIGKILL && cpu >= time.Duration(l.CPUSeconds)*time.Second-cpuSlack) {
			hit = append(hit, LimitCPU)
		}
	}
	abnormal := !res.Exit.Normal() && !killedByUs && len(hit) == 0
	lower := bytes.ToLower(append(append([]byte(nil), res.StderrHead...), res.StderrTail...))
	if l.MemoryBytes > 0 && abnormal &&
		(bytes.Contains(lower, []byte("out of memory")) ||
			bytes.Contains(lower, []byte("allocation failed")) ||
			bytes.Contains(lower, []byte("cannot allocate memory"))) {
		hit = append(hit, LimitMemory)
	}
	if l.OpenFiles > 0 && abnormal && bytes.Contains(lower, []byte("too many open files")) {
		hit = append(hit, LimitOpenFiles)
	}
	return hit
}

// cpuSlack absorbs the difference between rusage CPU time (tick-sampled) and the scheduler's
// accounting the kernel checks RLIMIT_CPU against.
const cpuSlack = 100 * time.Millisecond
