package p2p

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netLab is a set of network namespaces: one per node, each with a veth
// into a hub namespace holding two bridges. Moving a node's hub-side veth
// from one bridge to the other partitions the network without touching the
// nodes; only 10.77.0.0/24 addresses on these veths are used.
type netLab struct {
	t      *testing.T
	tag    string
	hub    string
	nodeNS []string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newNetLab(t *testing.T, n int) *netLab {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("the partition test needs iproute2 (apt-get install -y iproute2): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the partition test needs root to create network namespaces")
	}
	var b [3]byte
	rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	l := &netLab{t: t, tag: tag, hub: "hpp2p-" + tag + "-hub"}
	t.Cleanup(l.destroy)
	ipCmd(t, "netns", "add", l.hub)
	for _, br := range []string{"br0", "br1"} {
		ipCmd(t, "-n", l.hub, "link", "add", br, "type", "bridge")
		ipCmd(t, "-n", l.hub, "link", "set", br, "up")
	}
	for i := 1; i <= n; i++ {
		ns := fmt.Sprintf("hpp2p-%s-%d", tag, i)
		l.nodeNS = append(l.nodeNS, ns)
		ipCmd(t, "netns", "add", ns)
		v, h := fmt.Sprintf("v%s%d", tag, i), fmt.Sprintf("h%s%d", tag, i)
		ipCmd(t, "link", "add", v, "type", "veth", "peer", "name", h)
		ipCmd(t, "link", "set", v, "netns", ns)
		ipCmd(t, "link", "set", h, "netns", l.hub)
		ipCmd(t, "-n", ns, "addr", "add", fmt.Sprintf("10.77.0.%d/24", i), "dev", v)
		ipCmd(t, "-n", ns, "link", "set", v, "up")
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
		ipCmd(t, "-n", l.hub, "link", "set", h, "master", "br0")
		ipCmd(t, "-n", l.hub, "link", "set", h, "up")
	}
	return l
}

func (l *netLab) destroy() {
	for _, ns := range append([]string{l.hub}, l.nodeNS...) {
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

// attach moves node i's (1-based) hub port onto bridge br.
func (l *netLab) attach(i int, br string) {
	ipCmd(l.t, "-n", l.hub, "link", "set", fmt.Sprintf("h%s%d", l.tag, i), "master", br)
}

func (l *netLab) addr(i int) string { return fmt.Sprintf("10.77.0.%d:22860", i) }

// listen opens a UDP socket inside node i's namespace. The socket stays in
// that namespace after the thread switches back.
func (l *netLab) listen(i int) net.PacketConn {
	type result struct {
		pc  net.PacketConn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		pc, err := func() (net.PacketConn, error) {
			self, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				return nil, err
			}
			defer self.Close()
			target, err := os.Open("/run/netns/" + l.nodeNS[i-1])
			if err != nil {
				return nil, err
			}
			defer target.Close()
			if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
				return nil, fmt.Errorf("setns: %w", err)
			}
			pc, lerr := net.ListenPacket("udp", l.addr(i))
			if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
				// The thread is stuck in the wrong namespace: keep it
				// locked so the runtime discards it when we return.
				if pc != nil {
					pc.Close()
				}
				return nil, fmt.Errorf("setns back: %w", err)
			}
			runtime.UnlockOSThread()
			return pc, lerr
		}()
		ch <- result{pc, err}
	}()
	r := <-ch
	if r.err != nil {
		l.t.Fatalf("listen in %s: %v", l.nodeNS[i-1], r.err)
	}
	return r.pc
}

// TestPartitionHealsWithoutRestart: five nodes in their own namespaces find
// each other from a chain of bootstrap addresses, are split 2+3 at the
// bridge, drop the cross links by idle timeout, and reconnect into a full
// mesh once healed, with no node restarted.
func TestPartitionHealsWithoutRestart(t *testing.T) {
	const n = 5
	lab := newNetLab(t, n)
	nodes := make([]*testNode, n+1) // 1-based
	for i := 1; i <= n; i++ {
		cfg := fastConfig(newKey(t))
		cfg.ListenAddr = ""
		cfg.PacketConn = lab.listen(i)
		cfg.IdleTimeout = 2 * time.Second
		if i > 1 {
			cfg.Bootstrap = []string{lab.addr(i - 1)}
		}
		nodes[i] = startNode(t, cfg)
	}
	connectedTo := func(i int, want ...int) bool {
		if len(nodes[i].Peers()) != len(want) {
			return false
		}
		for _, j := range want {
			if !nodes[i].Connected(nodes[j].ID()) {
				return false
			}
		}
		return true
	}
	all := func(i int) []int {
		var out []int
		for j := 1; j <= n; j++ {
			if j != i {
				out = append(out, j)
			}
		}
		return out
	}
	fullMesh := func() bool {
		for i := 1; i <= n; i++ {
			if !connectedTo(i, all(i)...) {
				return false
			}
		}
		return true
	}
	eventually(t, 30*time.Second, "full mesh before the split", fullMesh)

	lab.attach(1, "br1")
	lab.attach(2, "br1")
	eventually(t, 20*time.Second, "2+3 split seen by every node", func() bool {
		return connectedTo(1, 2) && connectedTo(2, 1) && connectedTo(3, 4, 5) && connectedTo(4, 3, 5) && connectedTo(5, 3, 4)
	})

	lab.attach(1, "br0")
	lab.attach(2, "br0")
	eventually(t, 30*time.Second, "full mesh after healing", fullMesh)
}
