package contractexec

import (
	"bytes"
	"syscall"
	"time"
)

// rlimitsHit infers which rlimit ended the contract. The kernel does not say which limit made an
// allocation or an open fail, so the rules are:
//   - CPU: killed by SIGXCPU, or by SIGKILL (the hard limit) with CPU time at the limit;
//   - memory: an abnormal end with a memory limit set and either a peak RSS of at least a quarter of
//     the limit (runtimes reserve memory in large chunks, so the failing request comes well before
//     RSS reaches the limit) or an out-of-memory message on stderr;
//   - open files: an abnormal end with an open-files limit set and "too many open files" (EMFILE's
//     message, used by Go, node and libc alike) on stderr.
func rlimitsHit(l Limits, res *Result) []Limit {
	var hit []Limit
	cpu := res.Usage.User + res.Usage.System
	if l.CPUSeconds > 0 && !res.Exit.Exited {
		if res.Exit.Signal == syscall.SIGXCPU ||
			(res.Exit.Signal == syscall.SIGKILL && !res.Hit(LimitTimeout) && cpu >= time.Duration(l.CPUSeconds)*time.Second-100*time.Millisecond) {
			hit = append(hit, LimitCPU)
		}
	}
	abnormal := !res.Exit.Normal() && !res.Hit(LimitTimeout) && len(hit) == 0
	lower := bytes.ToLower(res.StderrTail)
	if l.MemoryBytes > 0 && abnormal {
		if uint64(res.Usage.MaxRSS) >= l.MemoryBytes/4 ||
			bytes.Contains(lower, []byte("out of memory")) ||
			bytes.Contains(lower, []byte("allocation failed")) ||
			bytes.Contains(lower, []byte("cannot allocate memory")) {
			hit = append(hit, LimitMemory)
		}
	}
	if l.OpenFiles > 0 && abnormal && bytes.Contains(lower, []byte("too many open files")) {
		hit = append(hit, LimitOpenFiles)
	}
	return hit
}
