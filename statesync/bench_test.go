package statesync

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
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
	var elapsed time.Duration
	for b.Loop() {
		cl := NewClient(c.client, NewStoreSink(merkle.NewMemStore(), merkle.DefaultParams()),
			Config{Logger: quietLogger(), Scheduler: cfg})
		start := time.Now()
		if err := cl.Run(context.Background(), root); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "files/s")
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
func BenchmarkQUICCopy1GiB(b *testing.B) {
	const total = int64(1<<30/10_000) * 10_000
	srvTLS, cliTLS := benchTLS(b)
	ln, err := quic.ListenAddr("127.0.0.1:0", srvTLS, &quic.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Go(func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		defer conn.CloseWithError(0, "")
		buf := make([]byte, 1<<20)
		rand.Read(buf)
		for {
			str, err := conn.AcceptStream(ctx)
			if err != nil {
				return
			}
			for sent := int64(0); sent < total; {
				n := min(int64(len(buf)), total-sent)
				if _, err := str.Write(buf[:n]); err != nil {
					return
				}
				sent += n
			}
			str.Close()
		}
	})
	conn, err := quic.DialAddr(ctx, ln.Addr().String(), cliTLS, &quic.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	buf := make([]byte, 1<<20)
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		str, err := conn.OpenStreamSync(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := str.Write([]byte{1}); err != nil {
			b.Fatal(err)
		}
		var got int64
		for {
			n, err := str.Read(buf)
			got += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if got != total {
			b.Fatalf("copied %d bytes, want %d", got, total)
		}
	}
}

func benchTLS(b *testing.B) (srv, cli *tls.Config) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		b.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	srv = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"bench"}, MinVersion: tls.VersionTLS13}
	cli = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"bench"}, MinVersion: tls.VersionTLS13}
	return srv, cli
}
