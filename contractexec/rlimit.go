package contractexec

import (
	"fmt"
	"strings"
)

// rlimitShell is the shell the child is started through when rlimits must be set. os/exec cannot
// call setrlimit between fork and exec, and setting limits with prlimit after Start races with the
// contract's first instructions; `ulimit` in a shell that then execs the contract applies them
// before any contract code runs, at the cost of one extra exec (about a millisecond). cgroup v2 is
// not used: it is absent or not writable on the hosts this was built for (cgroup v1 hybrid), and
// rlimits are what HotPocket itself uses.
const rlimitShell = "/bin/sh"

// manyFds is the ABI fd count past which the child's soft RLIMIT_NOFILE is raised to its hard limit
// even when no OpenFiles limit is configured: Go restores the node's original soft limit (often 1024)
// in children, and a contract handed 1,000 user sockets could otherwise not open a single file.
const manyFds = 256

// rlimitCommands returns the ulimit commands that enforce l for a child whose highest ABI fd is
// topFd-1, or nil when nothing needs setting. dash and bash both set the soft and hard limit when
// neither -S nor -H is given, as HotPocket's setrlimit does (except for CPU, below).
func rlimitCommands(l Limits, topFd int) []string {
	var cmds []string
	if l.CPUSeconds > 0 {
		// Hard limit one second above the soft one: the kernel sends SIGXCPU at the soft limit,
		// which names the cause; runtimes that ignore it get SIGKILL a second later. The soft
		// limit goes first: a hard limit below the current (unlimited) soft one is EINVAL.
		cmds = append(cmds, fmt.Sprintf("ulimit -S -t %d", l.CPUSeconds), fmt.Sprintf("ulimit -H -t %d", l.CPUSeconds+1))
	}
	if l.MemoryBytes > 0 {
		cmds = append(cmds, fmt.Sprintf("ulimit -d %d", (l.MemoryBytes+1023)/1024))
	}
	switch {
	case l.OpenFiles > 0:
		cmds = append(cmds, fmt.Sprintf("ulimit -n %d", uint64(topFd)+l.OpenFiles))
	case topFd > manyFds:
		cmds = append(cmds, `ulimit -S -n "$(ulimit -H -n)"`)
	}
	return cmds
}

// wrapArgv returns the program and argv that run bin with args under the given ulimit commands.
// The contract still sees argv[0] == bin.
func wrapArgv(cmds []string, bin string, args []string) (string, []string) {
	if len(cmds) == 0 {
		return bin, append([]string{bin}, args...)
	}
	script := strings.Join(cmds, " && ") + ` && exec "$0" "$@"`
	return rlimitShell, append([]string{"sh", "-c", script, bin}, args...)
}
