package cluster

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

	"github.com/hpfs/hpnode/nodedir"
)

// ConsoleLog is where a background node's own stdout/stderr go (panics, early errors); its
// structured log, with the contract's output lines, is nodedir.Layout.NodeLog.
const ConsoleLog = "console.log"

// Start launches `hpnodeBin run DIR/nodeK` for every node that is not running, in its own session
// so it outlives the calling command, and returns once every node reports up or ctx ends.
func Start(ctx context.Context, dir, hpnodeBin string) error {
	m, err := Open(dir)
	if err != nil {
		return err
	}
	var started []int
	for k := 1; k <= len(m.Nodes); k++ {
		nd, _ := m.NodeDir(dir, k)
		l := nodedir.Layout{Root: nd}
		if pid, ok := RunningPID(l); ok {
			fmt.Fprintf(os.Stderr, "node %d already running (pid %d)\n", k, pid)
			continue
		}
		if err := startNode(hpnodeBin, l); err != nil {
			return fmt.Errorf("start node %d: %w", k, err)
		}
		started = append(started, k)
	}
	for _, k := range started {
		nd, _ := m.NodeDir(dir, k)
		if err := waitUp(ctx, nodedir.Layout{Root: nd}); err != nil {
			return fmt.Errorf("node %d: %w (see hpnode cluster logs %s %d)", k, err, dir, k)
		}
	}
	return nil
}

func startNode(bin string, l nodedir.Layout) error {
	if err := os.MkdirAll(l.LogDir(), 0o755); err != nil {
		return err
	}
	console, err := os.OpenFile(filepath.Join(l.LogDir(), ConsoleLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	_ = os.Remove(l.StatusFile())
	cmd := exec.Command(bin, "run", l.Root)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	// The node writes its own pid file; this one covers the window before it does.
	if err := nodedir.WritePID(l, cmd.Process.Pid); err != nil {
		return err
	}
	return cmd.Process.Release()
}

func waitUp(ctx context.Context, l nodedir.Layout) error {
	for {
		if s, err := nodedir.ReadStatus(l); err == nil && s.Up {
			return nil
		}
		if _, ok := RunningPID(l); !ok {
			return errors.New("exited during start")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not up: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RunningPID returns the pid in the node's pid file if that process is alive and is not a zombie.
func RunningPID(l nodedir.Layout) (int, bool) {
	data, err := os.ReadFile(l.PIDFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Field 3 is the state; Z is a zombie that has exited but not been reaped.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return 0, false
		}
	}
	return pid, true
}

// Stop sends SIGTERM to every running node and waits up to grace for each to exit, then SIGKILLs.
func Stop(dir string, grace time.Duration) error {
	m, err := Open(dir)
	if err != nil {
		return err
	}
	var pids []int
	for k := 1; k <= len(m.Nodes); k++ {
		nd, _ := m.NodeDir(dir, k)
		if pid, ok := RunningPID(nodedir.Layout{Root: nd}); ok {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			pids = append(pids, pid)
		}
	}
	deadline := time.Now().Add(grace)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && !isZombie(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return nil
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// NodeStatus is one line of `hpnode cluster status`.
type NodeStatus struct {
	Node    int
	Dir     string
	Running bool
	PID     int
	Status  *nodedir.Status // nil when the node never published one
}

// Statuses reports every node of the cluster.
func Statuses(dir string) ([]NodeStatus, error) {
	m, err := Open(dir)
	if err != nil {
		return nil, err
	}
	out := make([]NodeStatus, 0, len(m.Nodes))
	for k := 1; k <= len(m.Nodes); k++ {
		nd, _ := m.NodeDir(dir, k)
		l := nodedir.Layout{Root: nd}
		ns := NodeStatus{Node: k, Dir: nd}
		ns.PID, ns.Running = RunningPID(l)
		if s, err := nodedir.ReadStatus(l); err == nil {
			ns.Status = &s
		}
		out = append(out, ns)
	}
	return out, nil
}

// Logs copies node k's log to w; with follow it keeps copying new lines until ctx ends.
func Logs(ctx context.Context, dir string, k int, follow bool, w io.Writer) error {
	m, err := Open(dir)
	if err != nil {
		return err
	}
	nd, err := m.NodeDir(dir, k)
	if err != nil {
		return err
	}
	f, err := os.Open(nodedir.Layout{Root: nd}.NodeLog())
	if err != nil {
		return fmt.Errorf("node %d log: %w", k, err)
	}
	defer f.Close()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Clean stops the cluster and removes its directory. It refuses a directory without a manifest.
func Clean(dir string) error {
	if _, err := Open(dir); err != nil {
		return err
	}
	if err := Stop(dir, 30*time.Second); err != nil {
		return err
	}
	// A node killed hard may leave its FUSE mount behind; detach it before removing the tree.
	m, _ := Open(dir)
	for k := 1; k <= len(m.Nodes); k++ {
		nd, _ := m.NodeDir(dir, k)
		detachMounts(nodedir.Layout{Root: nd}.Mount())
	}
	return os.RemoveAll(dir)
}

func detachMounts(mount string) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	abs, _ := filepath.Abs(mount)
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 1 && (fields[1] == abs || strings.HasPrefix(fields[1], abs+"/")) {
			_ = syscall.Unmount(fields[1], syscall.MNT_DETACH)
		}
	}
}
