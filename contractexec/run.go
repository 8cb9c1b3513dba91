package contractexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotExecutable is wrapped by the error Run returns when the contract binary is missing, not a
// regular file, or not executable.
var ErrNotExecutable = errors.New("contractexec: contract binary is not executable")

// ErrStart is wrapped by the error Run returns when the contract process could not be started.
var ErrStart = errors.New("contractexec: cannot start contract")

// drainGrace is how long output collection waits, after the contract's process group is dead, for
// its sockets to reach end of file. Only a process that escaped the group (setsid) can hold them
// open longer; its output is cut off.
const drainGrace = 2 * time.Second

// Run executes one contract round (or one read request) as HotPocket does and returns what the
// contract produced. It returns an error only when the Spec is invalid, the binary cannot be run,
// the fds cannot be set up, or ctx is canceled (then with the partial Result). Everything the
// contract itself does wrong (crash, limit hit, broken frame, early exit) is reported in the
// Result with a nil error, and the next Run is unaffected: all the contract's processes are
// killed and all fds are closed before Run returns.
func Run(ctx context.Context, s Spec) (Result, error) {
	if err := s.validate(); err != nil {
		return Result{}, err
	}
	bin, err := resolveBinary(s.Dir, s.Binary)
	if err != nil {
		return Result{}, err
	}
	e, err := prepare(&s)
	if err != nil {
		return Result{}, err
	}
	defer e.closeParentEnds()
	return e.run(ctx, bin)
}

// resolveBinary makes bin absolute (relative to dir) and checks it can be executed, so that "not
// executable" is a clear error rather than a shell's exit code 126.
func resolveBinary(dir, bin string) (string, error) {
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(dir, bin)
	}
	st, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotExecutable, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s is %v, not a regular file", ErrNotExecutable, bin, st.Mode().Type())
	}
	if err := unix.Access(bin, unix.X_OK); err != nil || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s (mode %v)", ErrNotExecutable, bin, st.Mode().Perm())
	}
	return bin, nil
}

// execution is the state of one Run: the parent's ends of every channel, the child's ends until
// Start has handed them over, and what the collectors gathered.
type execution struct {
	s   *Spec
	log *slog.Logger
	lay layout

	args []byte

	// Parent ends. users is indexed like Spec.Users.
	users   []*os.File
	control *os.File
	npl     *os.File // nil when readonly
	stdinW  *os.File
	stderrR *os.File
	stdoutR *os.File // nil when Spec.Stdout is nil

	// Child ends, closed in the parent right after Start.
	childFiles []*os.File // ExtraFiles: fd 3 onwards
	stdinR     *os.File
	stderrW    *os.File
	stdoutW    *os.File

	// Collected by the goroutines; each field has one writer, read after they are waited for.
	outs        []UserOutput
	nplSent     [][]byte
	nplLimitHit bool
	nplDropped  int
	controlMsgs []ControlMessage

	// stdinPeek is a duplicate of the stdin pipe's read end, kept so that the bytes the contract left
	// unread can be counted after it ends (the pipe would otherwise be gone). Holding it means a
	// write to a dead contract blocks instead of failing; run unblocks it by closing the write end.
	stdinPeek  int
	drainCut   atomic.Bool // a reader was ended by the drain deadline
	stderrHead []byte
	stderrTail []byte
}

// prepare builds the input memfd, the sockets, the pipes and the stdin JSON. The fd numbers the
// contract sees follow from the ExtraFiles order: user_in_fd 3, control_fd 4, npl_fd 5 (absent
// when readonly), then one output socket per user in Spec order.
func prepare(s *Spec) (e *execution, err error) {
	e = &execution{s: s, log: s.logger(), outs: make([]UserOutput, len(s.Users)), stdinPeek: -1}
	defer func() {
		if err != nil {
			e.closeParentEnds()
			e.closeChildEnds()
		}
	}()
	memfd, spans, err := writeInputs(s.Users)
	if err != nil {
		return e, err
	}
	e.childFiles = append(e.childFiles, memfd)
	e.lay = layout{userInFd: 3, nplFd: -1, inputs: spans, order: sortedUsers(s.Users), userFds: make([]int, len(s.Users))}

	var child *os.File
	if e.control, child, err = socketPair(syscall.SOCK_SEQPACKET, "control"); err != nil {
		return e, err
	}
	e.lay.controlFd = 3 + len(e.childFiles)
	e.childFiles = append(e.childFiles, child)
	if !s.Readonly {
		if e.npl, child, err = socketPair(syscall.SOCK_SEQPACKET, "npl"); err != nil {
			return e, err
		}
		e.lay.nplFd = 3 + len(e.childFiles)
		e.childFiles = append(e.childFiles, child)
	}
	e.users = make([]*os.File, len(s.Users))
	for i, u := range s.Users {
		e.outs[i].PublicKey = u.PublicKey
		if e.users[i], child, err = socketPair(syscall.SOCK_STREAM, "user "+u.PublicKey); err != nil {
			return e, err
		}
		e.lay.userFds[i] = 3 + len(e.childFiles)
		e.childFiles = append(e.childFiles, child)
	}
	if e.stdinR, e.stdinW, err = os.Pipe(); err != nil {
		return e, fmt.Errorf("stdin pipe: %w", err)
	}
	if e.stdinPeek, err = unix.FcntlInt(e.stdinR.Fd(), unix.F_DUPFD_CLOEXEC, 0); err != nil {
		return e, fmt.Errorf("dup stdin pipe: %w", err)
	}
	if e.stderrR, e.stderrW, err = os.Pipe(); err != nil {
		return e, fmt.Errorf("stderr pipe: %w", err)
	}
	if s.Stdout != nil {
		if e.stdoutR, e.stdoutW, err = os.Pipe(); err != nil {
			return e, fmt.Errorf("stdout pipe: %w", err)
		}
	}
	e.args = encodeArgs(s, &e.lay)
	return e, nil
}

func (e *execution) closeChildEnds() {
	closeAll(e.childFiles...)
	closeAll(e.stdinR, e.stderrW, e.stdoutW)
	e.childFiles, e.stdinR, e.stderrW, e.stdoutW = nil, nil, nil, nil
}

func (e *execution) closeParentEnds() {
	closeAll(e.users...)
	closeAll(e.control, e.npl, e.stdinW, e.stderrR, e.stdoutR)
	if e.stdinPeek >= 0 {
		unix.Close(e.stdinPeek)
		e.stdinPeek = -1
	}
}

// run starts the contract and supervises it to the end. Invariant on return: the contract's process
// group has been sent SIGKILL, the process is reaped, and every goroutine started here has ended.
func (e *execution) run(ctx context.Context, bin string) (Result, error) {
	s := e.s
	start := time.Now()
	path, argv := wrapArgv(rlimitCommands(s.Limits, 3+len(e.childFiles)), bin, s.Args)
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Dir:         s.Dir,
		Env:         contractEnv(s.Env),
		Stdin:       e.stdinR,
		Stderr:      e.stderrW,
		ExtraFiles:  e.childFiles,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Credential: s.RunAs},
	}
	if e.stdoutW != nil {
		cmd.Stdout = e.stdoutW
	}
	err := cmd.Start()
	e.closeChildEnds()
	if err != nil {
		return Result{}, fmt.Errorf("%w %s: %v", ErrStart, bin, err)
	}
	pgid := cmd.Process.Pid

	// Readers end at EOF (after the process group dies) or at the drain deadline; writers end when
	// their file is closed below. They are waited for separately because the NPL writer shares its
	// file with the NPL reader, and that file may only be closed once the reader has drained it.
	var readers, writers sync.WaitGroup
	stop := make(chan struct{})
	stdinDone := make(chan struct{})
	writers.Go(func() { e.writeStdin(); close(stdinDone) })
	readers.Go(e.readStderr)
	if e.stdoutR != nil {
		readers.Go(e.copyStdout)
	}
	for i := range e.users {
		readers.Go(func() { e.readUser(i) })
	}
	readers.Go(e.readControl)
	if e.npl != nil {
		readers.Go(e.readNPL)
		if s.NPLIn != nil {
			writers.Go(func() { e.writeNPL(stop) })
		}
	}

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var res Result
	var ctxErr error
	timer := time.NewTimer(s.timeout())
	select {
	case <-waited:
	case <-timer.C:
		res.addLimit(LimitTimeout)
		e.log.Warn("contract limit hit", "limit", LimitTimeout.String(), "timeout", s.timeout())
		killGroup(pgid)
		<-waited
	case <-ctx.Done():
		ctxErr = fmt.Errorf("contract execution canceled: %w", ctx.Err())
		killGroup(pgid)
		<-waited
	}
	timer.Stop()
	// Whatever the contract left running in its group must not outlive the round or hold its fds.
	killGroup(pgid)

	deadline := time.Now().Add(drainGrace)
	for _, f := range e.users {
		f.SetReadDeadline(deadline)
	}
	e.control.SetReadDeadline(deadline)
	if e.npl != nil {
		e.npl.SetReadDeadline(deadline)
	}
	e.stderrR.SetReadDeadline(deadline)
	if e.stdoutR != nil {
		e.stdoutR.SetReadDeadline(deadline)
	}
	readers.Wait()
	res.StdinUnread = e.stdinLeft(stdinDone)
	close(stop)
	e.stdinW.Close()
	unix.Close(e.stdinPeek)
	e.stdinPeek = -1
	if e.npl != nil {
		e.npl.Close()
	}
	writers.Wait()

	e.collect(&res, cmd.ProcessState)
	res.Elapsed = time.Since(start)
	e.logEnd(&res)
	return res, ctxErr
}

// killGroup sends SIGKILL to the process group; ESRCH (already gone) is the common case.
func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// stdinLeft reports, once the contract is dead, whether it left part of its arguments unread.
// Bytes still in the pipe (FIONREAD) prove it. An empty pipe proves nothing while the writer has
// not finished: it may be between two writes. But a writer facing an empty pipe does not block, so
// it soon either finishes or refills the pipe; stdinLeft waits for one of the two (bounded by
// drainGrace, after which the arguments count as unread).
func (e *execution) stdinLeft(writerDone <-chan struct{}) bool {
	inPipe := func() bool {
		n, err := unix.IoctlGetInt(e.stdinPeek, unix.TIOCINQ)
		return err == nil && n > 0
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(drainGrace)
	for {
		if inPipe() {
			return true
		}
		select {
		case <-writerDone:
			return inPipe()
		case <-giveUp:
			return true
		case <-tick.C:
		}
	}
}

// collect moves what the goroutines gathered into res and derives the limits hit from the exit.
func (e *execution) collect(res *Result, ps *os.ProcessState) {
	res.Users = e.outs
	res.NPL = e.nplSent
	res.Control = e.controlMsgs
	res.StderrHead = e.stderrHead
	res.StderrHead = e.stderrHead
	res.StderrTail = e.stderrTail
	res.NPLDropped = e.nplDropped
	res.OutputCutOff = e.drainCut.Load()
	if e.s.NPLIn != nil && !e.s.Readonly {
		res.NPLDropped += e.s.NPLIn.pending()
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			res.Exit = ExitStatus{Signal: ws.Signal()}
		} else {
			res.Exit = ExitStatus{Exited: true, Code: ws.ExitStatus()}
		}
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		res.Usage = Usage{
			User:   time.Duration(ru.Utime.Nano()),
			System: time.Duration(ru.Stime.Nano()),
			MaxRSS: ru.Maxrss * 1024,
		}
	}
	for _, u := range res.Users {
		if u.LimitHit {
			res.addLimit(LimitUserOutput)
		}
	}
	if e.nplLimitHit {
		res.addLimit(LimitNPLOutput)
	}
	for _, l := range rlimitsHit(e.s.Limits, res) {
		res.addLimit(l)
	}
}

// logEnd writes the execution's one log line, and one line per limit hit.
func (e *execution) logEnd(res *Result) {
	if res.OutputCutOff {
		e.log.Warn("contract fds still open after its process group ended; output cut off", "after", drainGrace, "lcl", e.s.LCLSeq)
	}
	for _, l := range res.LimitsHit {
		if l != LimitTimeout { // logged when it fired
			e.log.Warn("contract limit hit", "limit", l.String(), "readonly", e.s.Readonly, "lcl", e.s.LCLSeq)
		}
	}
	lvl := slog.LevelDebug
	if !res.Exit.Normal() {
		lvl = slog.LevelWarn
	}
	e.log.Log(context.Background(), lvl, "contract executed",
		"readonly", e.s.Readonly, "lcl", e.s.LCLSeq, "users", len(e.s.Users),
		"exit", res.Exit.String(), "elapsed", res.Elapsed, "cpu", res.Usage.User+res.Usage.System)
}

// readEnded records why a collector's read loop ended: a drain deadline means some process outside
// the contract's group still held the fd, and what it writes later is lost.
func (e *execution) readEnded(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		e.drainCut.Store(true)
	}
}
