package hpfsdsync

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/hpfs/hpnode/hpfs"
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

func benchHPFSDSync(b *testing.B, n, size int) {
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
	b.SetBytes(int64(n) * int64(size))
	b.ResetTimer()
	var elapsed, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		client := startHPFSD(b)
		b.StartTimer()
		cl := statesync.NewClient(node, NewSink(client.socket), statesync.Config{Logger: quietLogger()})
		stopProfile := profileSync(b)
		start, cpu0 := time.Now(), quiccopy.CPUTime(b)
		if err := cl.Run(context.Background(), target); err != nil {
			b.Fatal(err)
		}
		stopProfile()
		elapsed += time.Since(start)
		cpu += quiccopy.CPUTime(b) - cpu0
		if client.head() != target {
			b.Fatalf("client head %s, want %x", client.head(), target)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "files/s")
	// CPU seconds per wall second of sync (every daemon, node and the client are in this
	// process): near the core count means CPU-bound, well below it means latency-bound.
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	quiccopy.ReportCPU(b, cpu, int64(n)*int64(size)*int64(b.N))
}

// waitIdle waits (up to a minute) until this process, which holds the serving daemons, uses less
// than a tenth of a core over half a second: the servers' stores were just imported and copied,
// and pebble compacts them on open. The peers of a running cluster serve from settled stores, so
// the sync is timed against those, not against the servers' own start-up work.
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
// set; -cpuprofile would be dominated by writing and importing the data.
func profileSync(b *testing.B) (stop func()) {
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

func BenchmarkHPFSDSync1GiB10kFiles(b *testing.B) { benchHPFSDSync(b, 10_000, 1<<30/10_000) }

// BenchmarkHPFSDSync100MiB2kFiles is the profiling size: small enough for a quick -cpuprofile.
func BenchmarkHPFSDSync100MiB2kFiles(b *testing.B) { benchHPFSDSync(b, 2_000, 100<<20/2_000) }

func BenchmarkHPFSDSync100kSmallFiles(b *testing.B) { benchHPFSDSync(b, 100_000, 1024) }

// BenchmarkQUICCopy1GiB is the baseline: the 10k-file tree's byte count on one quic-go stream.
func BenchmarkQUICCopy1GiB(b *testing.B) { quiccopy.Bench(b, int64(1<<30/10_000)*10_000) }
