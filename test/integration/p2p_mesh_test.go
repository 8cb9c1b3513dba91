package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// meshProc is one meshnode process and the last state it reported.
type meshProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	addr   string
	peers  int
	exited chan struct{}
}

func (m *meshProc) state() (string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr, m.peers
}

// buildMeshnode builds p2p/internal/meshnode into dir.
func buildMeshnode(t *testing.T, dir string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	bin := filepath.Join(dir, "meshnode")
	cmd := exec.Command("go", "build", "-o", bin, "./p2p/internal/meshnode")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build meshnode: %v\n%s", err, out)
	}
	return bin
}

// startMesh starts a meshnode and follows its stdout. It is killed at
// cleanup if still running.
func startMesh(t *testing.T, bin string, args ...string) *meshProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &meshProc{cmd: cmd, exited: make(chan struct{})}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-m.exited
		logf.Close()
	})
	go func() {
		defer close(m.exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			m.mu.Lock()
			if a, ok := strings.CutPrefix(line, "listening="); ok {
				m.addr = a
			}
			var p, k int
			if n, _ := fmt.Sscanf(line, "peers=%d known=%d", &p, &k); n == 2 {
				m.peers = p
			}
			m.mu.Unlock()
		}
		cmd.Wait()
	}()
	waitFor(t, 10*time.Second, "meshnode reports its address", func() bool { a, _ := m.state(); return a != "" })
	return m
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestP2PMeshProcessesChainKill9Restart: five mesh processes, each given
// only the previous one's address, form a full mesh; one is killed with
// SIGKILL and the rest notice; restarted with only its data directory (no
// bootstrap address), it finds everyone again from its persisted peers.
func TestP2PMeshProcessesChainKill9Restart(t *testing.T) {
	dir := t.TempDir()
	bin := buildMeshnode(t, dir)
	const n = 5
	procs := make([]*meshProc, n)
	seeds := make([]string, n)
	datas := make([]string, n)
	for i := range procs {
		seeds[i] = fmt.Sprintf("%064x", i+1)
		datas[i] = filepath.Join(dir, fmt.Sprintf("node%d", i))
		if err := os.Mkdir(datas[i], 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"-seed", seeds[i], "-data", datas[i]}
		if i > 0 {
			prev, _ := procs[i-1].state()
			args = append(args, "-bootstrap", prev)
		}
		procs[i] = startMesh(t, bin, args...)
	}
	allPeers := func(want int, skip int) func() bool {
		return func() bool {
			for i, p := range procs {
				if i == skip {
					continue
				}
				if _, got := p.state(); got != want {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 30*time.Second, "full mesh of 5 processes", allPeers(n-1, -1))

	// The victim must have saved its known peers before it dies.
	victim := 2
	peersFile := filepath.Join(datas[victim], "peers.bin")
	waitFor(t, 15*time.Second, "known peers persisted", func() bool {
		st, err := os.Stat(peersFile)
		return err == nil && st.Size() > 12+3*100
	})
	addr, _ := procs[victim].state()
	procs[victim].cmd.Process.Kill()
	<-procs[victim].exited
	waitFor(t, 15*time.Second, "survivors drop the killed process", allPeers(n-2, victim))

	procs[victim] = startMesh(t, bin, "-seed", seeds[victim], "-data", datas[victim], "-listen", addr)
	waitFor(t, 30*time.Second, "restarted process rejoins the full mesh", allPeers(n-1, -1))
}
