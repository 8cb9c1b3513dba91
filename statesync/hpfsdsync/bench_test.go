package hpfsdsync

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/p2p"
	"github.com/hpfs/hpnode/statesync"
	"github.com/hpfs/hpnode/statesync/internal/quiccopy"
)

// The real node path: three hpfsd daemons serve a version over p2p on loopback and a blank
// hpfsd daemon syncs it through apply-proof. The baseline, in the same file so a ratio can be
// read from one run, copies the same number of bytes on one plain quic-go stream:
//
//	go test -run '^$' -bench . -benchtime 1x ./statesync/hpfsdsync

// benchStores writes n files of size random bytes into a directory, imports it into one hpfsd
// store and copies that store twice, returning the three store directories.
func benchStores(b *testing.B, n, size int) []string {
	b.Helper()
	base := b.TempDir()
	src := filepath.Join(base, "src")
	buf := make([]byte, size)
	for i := range n {
		dir := filepath.Join(src, fmt.Sprintf("d%03d", i%100))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		rand.Read(buf)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%07d", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	stores := []string{filepath.Join(base, "s0"), filepath.Join(base, "s1"), filepath.Join(base, "s2")}
	st, err := hpfs.OpenStore(hpfs.StoreOptions{Dir: stores[0], Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := hpfs.Import(st, src, ""); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(src)
	for _, s := range stores[1:] {
		if out, err := exec.Command("cp", "-a", stores[0], s).CombinedOutput(); err != nil {
			b.Fatalf("copy store: %v: %s", err, out)
		}
	}
	return stores
}

// serveStore mounts a daemon on an existing store directory and serves its control socket.
func serveStore(b *testing.B, store string) *daemon {
	b.Helper()
	dir := b.TempDir()
	d, err := hpfs.StartDaemon(hpfs.DaemonOptions{Store: hpfs.StoreOptions{Dir: store, Logger: quietLogger()}, MountDir: filepath.Join(dir, "mnt")})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	socket := filepath.Join(dir, "hpfsd.sock")
	done := make(chan struct{})
	go func() { defer close(done); d.ServeControl(ctx, socket) }()
	b.Cleanup(func() { cancel(); <-done; d.Close() })
	for hpfs.Call(socket, hpfs.Request{Op: hpfs.OpStatus}, nil) != nil {
		time.Sleep(10 * time.Millisecond)
	}
	return &daemon{d: d, socket: socket}
}

// syncSetup is the serving side of a sync benchmark: three hpfsd daemons serving one version
// over p2p, and the syncing node's p2p connected to all three.
type syncSetup struct {
	node   *p2p.Node
	target [32]byte
	files  int
	bytes  int64
}

func newSyncSetup(b *testing.B, n, size int) *syncSetup {
	stores := benchStores(b, n, size)
	var addrs []string
	var target [32]byte
	for _, s := range stores {
		d := serveStore(b, s)
		target = d.head()
		pn := startP2P(b)
		statesync.NewServer(NewSource(d.socket), statesync.ServerConfig{Logger: quietLogger()}).Register(pn)
		addrs = append(addrs, pn.Addr().String())
	}
	node := startP2P(b, addrs...)
	waitPeers(b, node, 3)
	waitIdle(b)
	return &syncSetup{node: node, target: target, files: n, bytes: int64(n) * int64(size)}
}

// syncOnce syncs the version into a fresh blank hpfsd and returns the time and the process CPU
// the sync took (starting the daemon is not counted).
func (s *syncSetup) syncOnce(b *testing.B) (elapsed, cpu time.Duration) {
	b.StopTimer()
	client := startHPFSD(b)
	b.StartTimer()
	cl := statesync.NewClient(s.node, NewSink(client.socket), statesync.Config{Logger: quietLogger()})
	stopProfile := profileSync(b)
	start, cpu0 := time.Now(), quiccopy.CPUTime(b)
	if err := cl.Run(context.Background(), s.target); err != nil {
		b.Fatal(err)
	}
	elapsed, cpu = time.Since(start), quiccopy.CPUTime(b)-cpu0
	stopProfile()
	if client.head() != s.target {
		b.Fatalf("client head %s, want %x", client.head(), s.target)
	}
	// A node syncs once; a daemon left running would tax the next rounds' garbage collections
	// with its heap.
	b.StopTimer()
	client.stop()
	b.StartTimer()
	return elapsed, cpu
}

func benchHPFSDSync(b *testing.B, n, size int) {
	s := newSyncSetup(b, n, size)
	b.SetBytes(s.bytes)
	b.ResetTimer()
	var elapsed, cpu time.Duration
	for b.Loop() {
		e, c := s.syncOnce(b)
		elapsed += e
		cpu += c
	}
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "files/s")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	quiccopy.ReportCPU(b, cpu, s.bytes*int64(b.N))
}

// BenchmarkHPFSDSyncVsCopy1GiB10kFiles is the ratio the closing notes report, measured the way
// a single run on this shared two-core machine cannot: each iteration is one round of the 1 GiB
// sync and the QUIC copy of the same byte count, in alternating order, each started after the
// previous one's dirty pages were written back (sync(2)) and the process went idle, so neither
// pays for the other's writeback. It reports the median over rounds of each rate, each CPU cost
// and the per-round ratio; run it with -benchtime Nx for N rounds.
func BenchmarkHPFSDSyncVsCopy1GiB10kFiles(b *testing.B) {
	s := newSyncSetup(b, 10_000, 1<<30/10_000)
	copier := quiccopy.Start(b, s.bytes)
	settle := func() {
		b.StopTimer()
		syscall.Sync()
		waitIdle(b)
		b.StartTimer()
	}
	copyOnce := func() (time.Duration, time.Duration) {
		start, cpu0 := time.Now(), quiccopy.CPUTime(b)
		copier.Copy(b)
		return time.Since(start), quiccopy.CPUTime(b) - cpu0
	}
	gib := float64(s.bytes) / (1 << 30)
	mbs := func(d time.Duration) float64 { return float64(s.bytes) / 1e6 / d.Seconds() }
	var syncMBs, copyMBs, syncCPU, copyCPU, ratio []float64
	round := 0
	for b.Loop() {
		var se, sc, ce, cc time.Duration
		settle()
		if round%2 == 0 {
			se, sc = s.syncOnce(b)
			settle()
			ce, cc = copyOnce()
		} else {
			ce, cc = copyOnce()
			settle()
			se, sc = s.syncOnce(b)
		}
		round++
		syncMBs, copyMBs = append(syncMBs, mbs(se)), append(copyMBs, mbs(ce))
		syncCPU, copyCPU = append(syncCPU, sc.Seconds()/gib), append(copyCPU, cc.Seconds()/gib)
		ratio = append(ratio, mbs(se)/mbs(ce))
		b.StopTimer() // the collection between rounds is not part of either
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.StartTimer()
		b.Logf("round %d: sync %.1f MB/s %.2f cpu-s/GiB, copy %.1f MB/s %.2f cpu-s/GiB; live heap %d MiB, goroutines %d", round, mbs(se), sc.Seconds()/gib, mbs(ce), cc.Seconds()/gib, ms.HeapAlloc>>20, runtime.NumGoroutine())
	}
	b.ReportMetric(median(syncMBs), "sync-MB/s")
	b.ReportMetric(median(copyMBs), "copy-MB/s")
	b.ReportMetric(median(ratio), "sync/copy")
	b.ReportMetric(median(syncCPU), "sync-cpu-s/GiB")
	b.ReportMetric(median(copyCPU), "copy-cpu-s/GiB")
}

// median is the middle value of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func waitIdle(b *testing.B) {
	b.Helper()
	const window = 500 * time.Millisecond
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		cpu0 := quiccopy.CPUTime(b)
		time.Sleep(window)
		if quiccopy.CPUTime(b)-cpu0 < window/10 {
			return
		}
	}
}

// profileSync writes a CPU profile of the sync alone (not the setup) to $HPFSD_SYNC_PROFILE if
// set; -cpuprofile would be dominated by writing and importing the data. $HPFSD_SYNC_PERF names
// a perf.data file instead: perf sees the kernel's side of the syscalls pprof shows as flat.
func profileSync(b *testing.B) (stop func()) {
	if path := os.Getenv("HPFSD_SYNC_PERF"); path != "" {
		return perfSync(b, path)
	}
	path := os.Getenv("HPFSD_SYNC_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// perfSync records this process with perf (software cpu-clock, call graphs) into path until
// stop is called.
func perfSync(b *testing.B, path string) (stop func()) {
	cmd := exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-g", "-o", path, "-p", fmt.Sprint(os.Getpid()))
	if err := cmd.Start(); err != nil {
		b.Fatalf("start perf: %v", err)
	}
	time.Sleep(time.Second) // perf attaches asynchronously
	return func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
}

func BenchmarkHPFSDSync1GiB10kFiles(b *testing.B) { benchHPFSDSync(b, 10_000, 1<<30/10_000) }

// BenchmarkHPFSDSync100MiB2kFiles is the profiling size: small enough for a quick -cpuprofile.
func BenchmarkHPFSDSync100MiB2kFiles(b *testing.B) { benchHPFSDSync(b, 2_000, 100<<20/2_000) }

func BenchmarkHPFSDSync100kSmallFiles(b *testing.B) { benchHPFSDSync(b, 100_000, 1024) }

// BenchmarkQUICCopy1GiB is the baseline: the 10k-file tree's byte count on one quic-go stream.
func BenchmarkQUICCopy1GiB(b *testing.B) { quiccopy.Bench(b, int64(1<<30/10_000)*10_000) }
