package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/nodedir"
)

// hpfsProcess is the hpfsd child that owns this node's contract_fs store and mounts. The node
// never opens the store itself: a FUSE stall in hpfsd cannot take consensus down, and there is
// exactly one writer of the store.
type hpfsProcess struct {
	cmd    *exec.Cmd
	socket string
	exited chan struct{} // closed when the child exits; err is set before
	err    error
}

// FindHPFSD returns the hpfsd binary: explicit if set, else the one beside the running
// executable, else hpfsd on PATH.
func FindHPFSD(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if self, err := os.Executable(); err == nil {
		cand := filepath.Join(filepath.Dir(self), "hpfsd")
		if _, err := os.Stat(cand); err == nil {
			return cand, nil
		}
	}
	p, err := exec.LookPath("hpfsd")
	if err != nil {
		return "", errors.New("hpfsd binary not found beside hpnode or on PATH (go build -o bin/ ./cmd/...)")
	}
	return p, nil
}

// startHPFS starts `hpfsd serve` for the node's store and waits until its control socket answers.
// An hpfsd of a previous run that is still unmounting holds the store's lock for a moment (its
// hpnode was killed and the kernel sent it SIGTERM), so an early exit is retried for a while.
func startHPFS(ctx context.Context, bin string, l nodedir.Layout, keep int, logOut io.Writer) (*hpfsProcess, error) {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		var p *hpfsProcess
		p, err = startHPFSOnce(ctx, bin, l, keep, logOut)
		if err == nil || !errors.Is(err, errExitedEarly) {
			return p, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil, err
}

var errExitedEarly = errors.New("hpfsd exited during start")

func startHPFSOnce(ctx context.Context, bin string, l nodedir.Layout, keep int, logOut io.Writer) (*hpfsProcess, error) {
	cmd := exec.Command(bin, "serve", "--store", l.Store(), "--mount", l.Mount(),
		"--socket", l.HPFSSocket(), "--keep", strconv.Itoa(keep))
	cmd.Stdout, cmd.Stderr = logOut, logOut
	// If hpnode dies without stopping it, the kernel sends hpfsd SIGTERM, which unmounts cleanly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start hpfsd: %w", err)
	}
	p := &hpfsProcess{cmd: cmd, socket: l.HPFSSocket(), exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st hpfs.StatusInfo
		if err := hpfs.Call(p.socket, hpfs.Request{Op: hpfs.OpStatus}, &st); err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%w: %v (see %s)", errExitedEarly, p.err, l.HPFSLog())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("hpfsd did not answer on %s within 30s (see %s)", p.socket, l.HPFSLog())
		}
	}
}

// stop asks hpfsd to unmount and exit (SIGTERM) and kills it if it has not within 20 s.
func (p *hpfsProcess) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("hpfsd did not stop within 20s after SIGTERM; killed")
	}
}

// stateFS is the node's view of hpfsd: the control calls it makes and the paths it uses.
type stateFS struct {
	socket string
	mount  string
}

func (s stateFS) call(req hpfs.Request, out any) error { return hpfs.Call(s.socket, req, out) }

// rwState is the contract's working directory during a read-write session.
func (s stateFS) rwState() string { return filepath.Join(s.mount, hpfs.RWView, hpfs.StateDir) }

// roState is the state directory of the read-only session name.
func (s stateFS) roState(name string) string { return filepath.Join(s.mount, name, hpfs.StateDir) }

func (s stateFS) begin() error {
	err := s.call(hpfs.Request{Op: hpfs.OpRWBegin}, nil)
	if err != nil && containsErr(err, hpfs.ErrSessionOpen) {
		// A session left open by a run that died mid-round: its writes are not committed and
		// must not be; start again from the head.
		if rerr := s.rollback(); rerr != nil {
			return fmt.Errorf("rw begin: %w (rollback of the stale session: %v)", err, rerr)
		}
		err = s.call(hpfs.Request{Op: hpfs.OpRWBegin}, nil)
	}
	return err
}

func (s stateFS) commit() (hpfs.CommitInfo, error) {
	var ci hpfs.CommitInfo
	err := s.call(hpfs.Request{Op: hpfs.OpRWCommit}, &ci)
	return ci, err
}

func (s stateFS) rollback() error { return s.call(hpfs.Request{Op: hpfs.OpRWRollback}, nil) }

func (s stateFS) roOpen(name, version string) error {
	return s.call(hpfs.Request{Op: hpfs.OpROOpen, Name: name, Version: version}, nil)
}

func (s stateFS) roClose(name string) error {
	return s.call(hpfs.Request{Op: hpfs.OpROClose, Name: name}, nil)
}

func (s stateFS) head() (hpfs.HashInfo, error) {
	var hi hpfs.HashInfo
	err := s.call(hpfs.Request{Op: hpfs.OpHash}, &hi)
	return hi, err
}

// containsErr matches an error that crossed the control socket, where only its text survives.
func containsErr(err, target error) bool {
	return err != nil && (errors.Is(err, target) || strings.Contains(err.Error(), target.Error()))
}
