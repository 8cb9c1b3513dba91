package hpfs

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// opLog records the FUSE requests of a daemon from go-fuse's debug log ("rx UNIQUE: OPCODE
// nNODEID ...").
type opLog struct {
	mu  sync.Mutex
	ops []string // "OPCODE nNODEID"
}

func (l *opLog) Write(p []byte) (int, error) {
	if op, node, ok := ParseRequestLog(p); ok && node != "" {
		l.mu.Lock()
		l.ops = append(l.ops, op+" "+node)
		l.mu.Unlock()
	}
	return len(p), nil
}

func (l *opLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops := l.ops
	l.ops = nil
	return ops
}

// TestCreateNeverAsksForTheParentsAttributes: creating files in an rw directory costs no GETATTR
// of the directory. With default_permissions the kernel asks for it on every create (it drops
// the directory's attributes on each create and needs its mode for the permission check); the
// daemon checks permissions itself, so the kernel never needs them.
func TestCreateNeverAsksForTheParentsAttributes(t *testing.T) {
	ops := &opLog{}
	d, err := StartDaemon(DaemonOptions{Store: StoreOptions{Dir: t.TempDir(), Logger: quietLog()},
		MountDir: filepath.Join(t.TempDir(), "mnt"), Debug: true, FuseLog: log.New(ops, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	mustBegin(t, d)
	dir := d.path(RWView, StateDir, "many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ops.take()
	const n = 50
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte("data"))
	}
	parents := map[string]bool{}
	for _, op := range ops.take() {
		var code, node string
		fmt.Sscan(op, &code, &node)
		if code == "CREATE" {
			parents[node] = true
		}
	}
	if len(parents) != 1 {
		t.Fatalf("CREATE requests on %d nodes, want 1 (the directory)", len(parents))
	}
	// The creates above named the directory's node id; these are counted.
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("g%d", i)), []byte("data"))
	}
	creates, parentGetattrs := 0, 0
	for _, op := range ops.take() {
		var code, node string
		fmt.Sscan(op, &code, &node)
		switch {
		case code == "CREATE":
			creates++
		case code == "GETATTR" && parents[node]:
			parentGetattrs++
		}
	}
	if creates != n {
		t.Fatalf("%d CREATE requests for %d files", creates, n)
	}
	if parentGetattrs != 0 {
		t.Errorf("%d GETATTR requests of the directory for %d creates, want 0", parentGetattrs, n)
	}
}
