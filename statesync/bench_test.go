package statesync

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
	"github.com/hpfs/hpnode/statesync/internal/quiccopy"
)

// The sync benchmarks and their baseline live in one file so a ratio can be read from one run:
//
//	go test -run '^$' -bench 'Sync1GiB|QUICCopy1GiB|Sync100k' -benchtime 1x ./statesync
//
// BenchmarkSync1GiB10kFiles (a blank client syncing 1 GiB in 10k files from 3 servers) against
// BenchmarkQUICCopy1GiB (the same number of bytes on one plain quic-go stream over loopback),
// and BenchmarkSync100kSmallFiles (files/s).

// benchTree builds n files of size bytes under state/ in 100 directories, with 64 KiB leaves
// (the hpfs default), and returns the store, root and data bytes.
func benchTree(b *testing.B, n, size int) (*merkle.MemStore, merkle.Hash, int64) {
	b.Helper()
	st := merkle.NewMemStore()
	p := merkle.DefaultParams()
	e, err := merkle.NewEditor(st, merkle.EmptyRoot(), p)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Mkdir("state", 0o755); err != nil {
		b.Fatal(err)
	}
	dirs := min(100, n)
	for d := range dirs {
		if err := e.Mkdir(fmt.Sprintf("state/d%03d", d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, size)
	for i := range n {
		rand.Read(buf)
		leaves := map[uint64]merkle.Hash{}
		for j := 0; j*p.LeafSize < size; j++ {
			chunk := buf[j*p.LeafSize : min(size, (j+1)*p.LeafSize)]
			h := merkle.LeafHash(chunk)
			if err := st.PutLeaf(h, chunk); err != nil {
				b.Fatal(err)
			}
			leaves[uint64(j)] = h
		}
		if err := e.WriteFile(fmt.Sprintf("state/d%03d/f%07d", i%dirs, i), 0o644, uint64(size), leaves); err != nil {
			b.Fatal(err)
		}
	}
	root, err := e.Commit()
	if err != nil {
		b.Fatal(err)
	}
	return st, root, int64(n) * int64(size)
}

// benchServers starts three servers over store (shared: each server builds its own proofs) and
// a client node connected to them.
func benchServers(b *testing.B, store merkle.NodeStore, root merkle.Hash) *cluster {
	b.Helper()
	return newCluster(b, 3, func(merkle.NodeStore) []merkle.Hash { return nil }, func(_ int, _ ProofSource) ProofSource {
		src := NewStoreSource(store)
		src.AddRoot(root)
		return src
	})
}

func benchSync(b *testing.B, n, size int, cfg SchedulerConfig) {
	store, root, total := benchTree(b, n, size)
	c := benchServers(b, store, root)
	b.SetBytes(total)
	b.ResetTimer()
	var elapsed, cpu time.Duration
	for b.Loop() {
		cl := NewClient(c.client, NewStoreSink(merkle.NewMemStore(), merkle.DefaultParams()),
			Config{Logger: quietLogger(), Scheduler: cfg})
		start, cpu0 := time.Now(), quiccopy.CPUTime(b)
		if err := cl.Run(context.Background(), root); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		cpu += quiccopy.CPUTime(b) - cpu0
	}
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "files/s")
	quiccopy.ReportCPU(b, cpu, total*int64(b.N))
}

// BenchmarkSyncEngine1GiB10kFiles syncs the same tree with the network replaced by direct calls
// into three servers: the cost of proofs, verification and applying alone, to tell how much of
// BenchmarkSync1GiB10kFiles is the engine and how much the p2p request path.
func BenchmarkSyncEngine1GiB10kFiles(b *testing.B) {
	store, root, total := benchTree(b, 10_000, 1<<30/10_000)
	var servers []*Server
	for range 3 {
		src := NewStoreSource(store)
		src.AddRoot(root)
		servers = append(servers, NewServer(src, ServerConfig{Logger: quietLogger()}))
	}
	net := &fakeNet{peers: []p2p.PeerID{pid(1), pid(2), pid(3)}, do: func(ctx context.Context, to p2p.PeerID, req []byte) ([]byte, error) {
		return servers[to[0]-1].Handle(ctx, to, req)
	}}
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		cl := NewClient(net, NewStoreSink(merkle.NewMemStore(), merkle.DefaultParams()), Config{Logger: quietLogger()})
		if err := cl.Run(context.Background(), root); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSync1GiB10kFiles(b *testing.B) {
	benchSync(b, 10_000, 1<<30/10_000, SchedulerConfig{})
}

func BenchmarkSync100kSmallFiles(b *testing.B) {
	benchSync(b, 100_000, 1024, SchedulerConfig{})
}

// BenchmarkQUICCopy1GiB is the baseline: 1 GiB (the same byte count as the 10k-file tree's
// data) written on one quic-go stream over loopback and read by the other side, with TLS 1.3
// and default quic-go settings.
func BenchmarkQUICCopy1GiB(b *testing.B) { quiccopy.Bench(b, int64(1<<30/10_000)*10_000) }
