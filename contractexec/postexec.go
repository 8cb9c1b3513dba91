package contractexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// PostExecScript is the name of the script a contract leaves in its state directory to run after a
// successful consensus execution (the contract library's POST_EXEC_SCRIPT_NAME).
const PostExecScript = "post_exec.sh"

// ErrPostExec is wrapped by every RunPostExec error that comes from the script itself (bad exit
// code, signal, timeout), as opposed to an error starting it.
var ErrPostExec = errors.New("contractexec: post_exec.sh failed")

// PostExecOutcome says what RunPostExec did.
type PostExecOutcome int

// The outcomes of RunPostExec.
const (
	// PostExecAbsent: there was no post_exec.sh; nothing ran.
	PostExecAbsent PostExecOutcome = iota
	// PostExecDeleted: the script exited 0 and was deleted (its lifetime is over).
	PostExecDeleted
	// PostExecKept: the script exited 3..125 and was kept for the next round.
	PostExecKept
	// PostExecFailed: the script failed (bad exit code, signal, timeout); the error says how.
	PostExecFailed
)

// String names the outcome.
func (o PostExecOutcome) String() string {
	switch o {
	case PostExecAbsent:
		return "absent"
	case PostExecDeleted:
		return "deleted"
	case PostExecKept:
		return "kept"
	case PostExecFailed:
		return "failed"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// RunPostExec runs dir/post_exec.sh as HotPocket does after a consensus execution whose contract
// exited normally: in dir, through /bin/sh (so a script without a shebang runs as in system(3)),
// with one argument "<seq> <hash>", and the default environment (PATH only). Exit code 0 deletes the
// script, 3..125 keeps it, anything else (1, 2, 126+, a signal) is an error wrapping ErrPostExec.
// Unlike HotPocket, which waits forever, the script's process group is killed after timeout (0
// means DefaultTimeout) and that is an error too.
func RunPostExec(ctx context.Context, dir string, seq uint64, hash string, timeout time.Duration) (PostExecOutcome, error) {
	return RunPostExecAs(ctx, nil, dir, seq, hash, timeout)
}

// RunPostExecAs is RunPostExec running the script as runAs (Spec.RunAs), as HotPocket runs it as
// contract.run_as; nil runs it as the node's own user.
func RunPostExecAs(ctx context.Context, runAs *syscall.Credential, dir string, seq uint64, hash string, timeout time.Duration) (PostExecOutcome, error) {
	script := filepath.Join(dir, PostExecScript)
	if _, err := os.Lstat(script); errors.Is(err, os.ErrNotExist) {
		return PostExecAbsent, nil
	} else if err != nil {
		return PostExecFailed, fmt.Errorf("post_exec.sh: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cmd := exec.Command(rlimitShell, "-c", `./`+PostExecScript+` "$1"`, PostExecScript, strconv.FormatUint(seq, 10)+" "+hash)
	cmd.Dir = dir
	cmd.Env = contractEnv(nil)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: runAs}
	if err := cmd.Start(); err != nil {
		return PostExecFailed, fmt.Errorf("start post_exec.sh: %w", err)
	}
	pgid := cmd.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var stopErr error
	select {
	case <-waited:
	case <-timer.C:
		stopErr = fmt.Errorf("%w: timed out after %v", ErrPostExec, timeout)
	case <-ctx.Done():
		stopErr = fmt.Errorf("post_exec.sh canceled: %w", ctx.Err())
	}
	killGroup(pgid)
	if stopErr != nil {
		<-waited
		return PostExecFailed, stopErr
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return PostExecFailed, fmt.Errorf("%w: killed by signal %v", ErrPostExec, ws.Signal())
	}
	switch code := ws.ExitStatus(); {
	case code == 0:
		if err := os.Remove(script); err != nil {
			return PostExecFailed, fmt.Errorf("delete post_exec.sh after exit 0: %w", err)
		}
		return PostExecDeleted, nil
	case code >= 3 && code <= 125:
		return PostExecKept, nil
	default:
		return PostExecFailed, fmt.Errorf("%w: exit code %d", ErrPostExec, code)
	}
}
