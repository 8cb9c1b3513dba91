package hpfsdsync

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
	"github.com/hpfs/hpnode/statesync"
)

// daemon is an in-process hpfsd (real pebble store, real FUSE mount) with its control socket.
type daemon struct {
	d      *hpfs.Daemon
	socket string
	// stop stops the daemon now instead of at the test's end (idempotent).
	stop func()
}

// startHPFSD imports each directory of versions in turn (one committed version each) into a new
// store, then mounts it and serves its control socket until the test ends.
func startHPFSD(t testing.TB, versions ...string) *daemon {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("FUSE is required: %v", err)
	}
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	opts := hpfs.StoreOptions{Dir: storeDir, Keep: 8, Logger: quietLogger()}
	if len(versions) > 0 {
		st, err := hpfs.OpenStore(opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range versions {
			if _, err := hpfs.Import(st, v, ""); err != nil {
				st.Close()
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	d, err := hpfs.StartDaemon(hpfs.DaemonOptions{Store: opts, MountDir: filepath.Join(dir, "mnt")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	socket := filepath.Join(dir, "hpfsd.sock")
	served := make(chan error, 1)
	go func() { served <- d.ServeControl(ctx, socket) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("serve control: %v", err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("close daemon: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(5 * time.Second)
	for hpfs.Call(socket, hpfs.Request{Op: hpfs.OpStatus}, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("hpfsd control socket never came up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &daemon{d: d, socket: socket, stop: stop}
}

func (d *daemon) head() merkle.Hash { return d.d.Store().Head().Root }

// writeDir writes files (relative path -> content) under a new temporary directory.
func writeDir(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		if data == nil {
			continue
		}
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// hpfsdCluster starts n serving daemons holding the given versions, each behind a p2p node with
// an HPFSSource server (wrap may replace a source), and a blank client daemon and node.
func hpfsdCluster(t testing.TB, n int, wrap func(i int, s statesync.ProofSource) statesync.ProofSource, versions ...string) (servers []*daemon, client *daemon, node *p2p.Node) {
	t.Helper()
	var addrs []string
	for i := range n {
		d := startHPFSD(t, versions...)
		var src statesync.ProofSource = NewSource(d.socket)
		if wrap != nil {
			src = wrap(i, src)
		}
		pn := startP2P(t)
		statesync.NewServer(src, statesync.ServerConfig{Logger: quietLogger()}).Register(pn)
		servers = append(servers, d)
		addrs = append(addrs, pn.Addr().String())
	}
	client = startHPFSD(t)
	node = startP2P(t, addrs...)
	waitPeers(t, node, n)
	return servers, client, node
}

// checkMounted compares the client's current view with files.
func checkMounted(t testing.TB, d *daemon, files map[string][]byte) {
	t.Helper()
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(d.d.MountDir(), hpfs.CurrentView, hpfs.StateDir, p))
		if want == nil {
			if err == nil {
				t.Fatalf("%s exists after sync, want removed", p)
			}
			continue
		}
		if err != nil {
			t.Fatalf("read synced %s: %v", p, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("synced %s differs (%d bytes, want %d)", p, len(got), len(want))
		}
	}
}

func TestHPFSDBlankDaemonClonesThreeServers(t *testing.T) {
	files := genFiles(120, 20_000, 5)
	servers, client, node := hpfsdCluster(t, 3, nil, writeDir(t, files))
	target := servers[0].head()
	for _, s := range servers[1:] {
		if s.head() != target {
			t.Fatalf("servers disagree on the imported root: %s vs %s", s.head(), target)
		}
	}
	cl := statesync.NewClient(node, NewSink(client.socket), statesync.Config{Logger: quietLogger(),
		Scheduler: statesync.SchedulerConfig{MaxBytes: 512 << 10, MaxInFlight: 6}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.Run(ctx, target); err != nil {
		t.Fatal(err)
	}
	if got := client.head(); got != target {
		t.Fatalf("client head %s after sync, want %s", got, target)
	}
	checkMounted(t, client, files)
}

func TestHPFSDTargetMovedMidSyncAndFallback(t *testing.T) {
	files1, files2 := retargetFixture(150)
	v1, v2 := writeDir(t, files1), writeDir(t, files2)
	for _, fallback := range []bool{false, true} {
		name := map[bool]string{false: "change proofs", true: "fallback"}[fallback]
		t.Run(name, func(t *testing.T) {
			var counters []*countingSource
			servers, client, node := hpfsdCluster(t, 3, func(_ int, s statesync.ProofSource) statesync.ProofSource {
				cs := &countingSource{ProofSource: s}
				if fallback {
					cs.ProofSource = &forgetfulSource{ProofSource: s}
				}
				counters = append(counters, cs)
				return cs
			}, v1, v2)
			root2 := servers[0].head()
			var roots []hpfs.VersionInfo
			if err := hpfs.Call(servers[0].socket, hpfs.Request{Op: hpfs.OpVersions}, &roots); err != nil {
				t.Fatal(err)
			}
			var root1 merkle.Hash
			for _, v := range roots {
				if h, _ := merkle.ParseHash(v.Root); h != root2 && v.Seq > 0 {
					root1 = h
				}
			}
			if root1.IsZero() {
				t.Fatalf("no first imported version among %+v", roots)
			}
			sink := &hookSink{ProofSink: NewSink(client.socket), n: 4}
			cl := statesync.NewClient(node, sink, statesync.Config{Logger: quietLogger(),
				Scheduler: statesync.SchedulerConfig{MaxBytes: 64 << 10, MaxInFlight: 3, PerPeer: 1}})
			sink.hook = func() { cl.SetTarget(root2) }
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			if err := cl.Run(ctx, root1); err != nil {
				t.Fatal(err)
			}
			if got := client.head(); got != root2 {
				t.Fatalf("client head %s, want %s", got, root2)
			}
			checkMounted(t, client, files2)
			var ch, fb int64
			for _, c := range counters {
				ch += c.changes.Load()
				fb += c.fallbacks.Load()
			}
			if fallback && (fb == 0 || ch != 0) || !fallback && (ch == 0 || fb != 0) {
				t.Fatalf("change proofs %d, fallbacks %d", ch, fb)
			}
		})
	}
}

// forgetfulSource serves only the newest root, as a server whose history was pruned.
type forgetfulSource struct{ statesync.ProofSource }

func (s *forgetfulSource) Roots(ctx context.Context) ([]merkle.Hash, error) {
	roots, err := s.ProofSource.Roots(ctx)
	return roots[:min(1, len(roots))], err
}

func (s *forgetfulSource) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	rp, err := s.ProofSource.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return statesync.Proof{}, err
	}
	return statesync.FallbackProof(rp)
}

// tamperingSource corrupts one byte of every non-fallback change proof it serves.
type tamperingSource struct {
	statesync.ProofSource
	tampered atomic.Int64
}

func (s *tamperingSource) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	p, err := s.ProofSource.ChangeProof(ctx, base, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return p, err
	}
	var cp merkle.ChangeProof
	if err := cp.UnmarshalBinary(p.Bytes); err != nil || cp.Fallback {
		return p, err
	}
	for _, list := range [][][]byte{cp.Leaves, cp.Nodes} {
		for i := len(list) - 1; i >= 0; i-- {
			if len(list[i]) > 0 {
				list[i] = append([]byte(nil), list[i]...)
				list[i][len(list[i])-1] ^= 1
				b, err := cp.MarshalBinary()
				if err != nil {
					return statesync.Proof{}, err
				}
				s.tampered.Add(1)
				return statesync.Proof{Kind: p.Kind, Bytes: b, End: p.End}, nil
			}
		}
	}
	return p, nil
}

// TestHPFSDRejectsTamperedChangeProof: change proofs are verified by hpfsd against its own tree;
// a tampered one must be refused there, its sender dropped, and the sync finished elsewhere.
func TestHPFSDRejectsTamperedChangeProof(t *testing.T) {
	// Which peer the scheduler asks for which change proof depends on timing; a run in which
	// the liar happened to be asked for none proves nothing, so it is repeated (each run has a
	// fresh cluster). Runs without a tampered proof are rare (a few percent).
	for attempt := 1; attempt <= 4; attempt++ {
		if tamperedChangeProofRun(t) {
			return
		}
		t.Logf("run %d: the liar was asked for no change proof; again", attempt)
	}
	t.Fatal("the liar never served a change proof in 4 runs")
}

// tamperedChangeProofRun syncs a blank client from three hpfsd servers, one of which tampers
// with every change proof, moving the target mid-sync. It checks the result is exact and, if
// the liar served a tampered proof, that it was dropped; it reports whether it did.
func tamperedChangeProofRun(t *testing.T) bool {
	t.Helper()
	files1, files2 := retargetFixture(400)
	var liar *tamperingSource
	servers, client, node := hpfsdCluster(t, 3, func(i int, s statesync.ProofSource) statesync.ProofSource {
		if i != 0 {
			return s
		}
		liar = &tamperingSource{ProofSource: s}
		return liar
	}, writeDir(t, files1), writeDir(t, files2))
	root2 := servers[0].head()
	var vs []hpfs.VersionInfo
	if err := hpfs.Call(servers[0].socket, hpfs.Request{Op: hpfs.OpVersions}, &vs); err != nil {
		t.Fatal(err)
	}
	var root1 merkle.Hash
	for _, v := range vs {
		if h, _ := merkle.ParseHash(v.Root); h != root2 && v.Seq > 0 {
			root1 = h
		}
	}
	// Small proofs (~70 ranges), many in flight, and the target moved after 40 applies: the
	// ranges already applied then are refetched as change proofs, dozens of them spread over
	// every peer, the liar included (ranges not yet fetched come as range proofs at root2).
	sink := &hookSink{ProofSink: NewSink(client.socket), n: 40}
	cl := statesync.NewClient(node, sink, statesync.Config{Logger: quietLogger(),
		Scheduler: statesync.SchedulerConfig{MaxBytes: 16 << 10, MaxInFlight: 9, PerPeer: 3}})
	sink.hook = func() { cl.SetTarget(root2) }
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.Run(ctx, root1); err != nil {
		t.Fatal(err)
	}
	if got := client.head(); got != root2 {
		t.Fatalf("client head %s, want %s", got, root2)
	}
	checkMounted(t, client, files2)
	if liar.tampered.Load() == 0 {
		return false
	}
	if p := cl.Progress(); p.DroppedPeers != 1 {
		t.Fatalf("dropped peers %d, want the liar", p.DroppedPeers)
	}
	return true
}

// lyingSource answers every range request through tamper.
type lyingSource struct {
	statesync.ProofSource
	tamper func(end merkle.Key, p statesync.Proof) (statesync.Proof, error)
	asked  atomic.Int64
}

func (s *lyingSource) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	s.asked.Add(1)
	p, err := s.ProofSource.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
	if err != nil {
		return p, err
	}
	return s.tamper(end, p)
}

// TestHPFSDLyingServersArePenalisedAndSyncCompletes: two honest daemons and three liars (a
// flipped byte, an empty proof claiming the whole range, a NACK for a root it has). The two
// proof liars are dropped after one answer each, the NACKer is only routed around, and the
// blank daemon still ends at exactly the servers' root.
func TestHPFSDLyingServersArePenalisedAndSyncCompletes(t *testing.T) {
	files := genFiles(120, 4000, 7)
	lies := []func(end merkle.Key, p statesync.Proof) (statesync.Proof, error){
		func(_ merkle.Key, p statesync.Proof) (statesync.Proof, error) {
			b := append([]byte(nil), p.Bytes...)
			b[len(b)/2] ^= 0x10
			return statesync.Proof{Kind: p.Kind, Bytes: b, End: p.End}, nil
		},
		func(end merkle.Key, _ statesync.Proof) (statesync.Proof, error) {
			b, err := (&merkle.RangeProof{End: end}).MarshalBinary()
			return statesync.Proof{Kind: statesync.ProofRange, Bytes: b, End: end}, err
		},
		func(merkle.Key, statesync.Proof) (statesync.Proof, error) {
			return statesync.Proof{}, statesync.ErrUnknownRoot
		},
	}
	liars := make([]*lyingSource, len(lies))
	servers, client, node := hpfsdCluster(t, 5, func(i int, s statesync.ProofSource) statesync.ProofSource {
		if i >= len(lies) {
			return s
		}
		liars[i] = &lyingSource{ProofSource: s, tamper: lies[i]}
		return liars[i]
	}, writeDir(t, files))
	target := servers[0].head()
	cl := statesync.NewClient(node, NewSink(client.socket), statesync.Config{Logger: quietLogger(),
		Scheduler: statesync.SchedulerConfig{MaxBytes: 32 << 10, MaxInFlight: 5, PerPeer: 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.Run(ctx, target); err != nil {
		t.Fatal(err)
	}
	if got := client.head(); got != target {
		t.Fatalf("client head %s, want %s", got, target)
	}
	checkMounted(t, client, files)
	for i, l := range liars {
		if l.asked.Load() == 0 {
			t.Fatalf("liar %d was never asked", i)
		}
	}
	if liars[0].asked.Load() != 1 || liars[1].asked.Load() != 1 {
		t.Fatalf("proof liars asked %d and %d times, want once each", liars[0].asked.Load(), liars[1].asked.Load())
	}
	if p := cl.Progress(); p.DroppedPeers != 2 {
		t.Fatalf("dropped peers %d, want the two proof liars", p.DroppedPeers)
	}
}

// rangeCounter counts the range proofs a source served.
type rangeCounter struct {
	*countingSource
	ranges atomic.Int64
}

func (s *rangeCounter) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	s.ranges.Add(1)
	return s.countingSource.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
}

// TestHPFSDNodeHoldingOlderVersionFetchesOnlyTheDifference: a daemon that already holds v1
// (a node that fell behind, or one that synced before) syncs to v2 with change proofs from its
// head, never a range proof, and moves a small fraction of the tree's bytes.
func TestHPFSDNodeHoldingOlderVersionFetchesOnlyTheDifference(t *testing.T) {
	files1, files2 := retargetFixture(300)
	v1, v2 := writeDir(t, files1), writeDir(t, files2)
	var counters []*rangeCounter
	var addrs []string
	var root2 merkle.Hash
	for range 3 {
		d := startHPFSD(t, v1, v2)
		root2 = d.head()
		rc := &rangeCounter{countingSource: &countingSource{ProofSource: NewSource(d.socket)}}
		counters = append(counters, rc)
		pn := startP2P(t)
		statesync.NewServer(rc, statesync.ServerConfig{Logger: quietLogger()}).Register(pn)
		addrs = append(addrs, pn.Addr().String())
	}
	client := startHPFSD(t, v1)
	node := startP2P(t, addrs...)
	waitPeers(t, node, 3)
	cl := statesync.NewClient(node, NewSink(client.socket), statesync.Config{Logger: quietLogger(),
		Scheduler: statesync.SchedulerConfig{MaxBytes: 64 << 10, MaxInFlight: 6}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.Run(ctx, root2); err != nil {
		t.Fatal(err)
	}
	if got := client.head(); got != root2 {
		t.Fatalf("client head %s, want %s", got, root2)
	}
	checkMounted(t, client, files2)
	var ranges, changes, fallbacks int64
	for _, c := range counters {
		ranges += c.ranges.Load()
		changes += c.changes.Load()
		fallbacks += c.fallbacks.Load()
	}
	if ranges != 0 || fallbacks != 0 || changes == 0 {
		t.Fatalf("served %d range proofs, %d fallbacks, %d change proofs; want change proofs only", ranges, fallbacks, changes)
	}
	total := 0
	for _, d := range files2 {
		total += len(d)
	}
	if p := cl.Progress(); p.ProofBytes*10 > uint64(total) {
		t.Fatalf("moved %d proof bytes for a %d-byte tree that barely changed", p.ProofBytes, total)
	}
	// Syncing again to the head it now holds is done at once.
	if err := cl.Run(ctx, root2); err != nil {
		t.Fatal(err)
	}
}
