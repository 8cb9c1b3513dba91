package hpfsdsync

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
	"github.com/hpfs/hpnode/statesync"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startP2P starts a mesh node on loopback, bootstrapped to addrs, closed at cleanup.
func startP2P(t testing.TB, bootstrap ...string) *p2p.Node {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n, err := p2p.New(p2p.Config{
		Key: key, ContractID: "hpfsdsync-test", ListenAddr: "127.0.0.1:0", Bootstrap: bootstrap,
		MaxConnsPerHost: 64, HandshakeTimeout: 3 * time.Second, DialInterval: 100 * time.Millisecond,
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, PingInterval: time.Hour,
		BytesPerMinute: 1 << 40, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func waitPeers(t testing.TB, n *p2p.Node, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(n.Peers()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("connected to %d peers, want %d", len(n.Peers()), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// genFiles returns n files (paths relative to state/) spread over 7 directories, size bytes
// each, deterministic in seed.
func genFiles(n, size int, seed byte) map[string][]byte {
	files := make(map[string][]byte, n)
	for i := range n {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i*31+j*7) ^ seed
		}
		files[fmt.Sprintf("d%02d/f%06d", i%7, i)] = data
	}
	return files
}

// retargetFixture is n files and a second version that removes, rewrites and adds some.
func retargetFixture(n int) (files1, files2 map[string][]byte) {
	files1 = genFiles(n, 3000, 3)
	files2 = map[string][]byte{}
	for p, d := range files1 {
		files2[p] = d
	}
	delete(files2, "d00/f000000")
	delete(files2, fmt.Sprintf("d%02d/f%06d", (n-1)%7, n-1))
	files2["d03/f000003"] = []byte("rewritten")
	files2["new/file"] = []byte("added after the move")
	return files1, files2
}

// countingSource counts the proofs a source served, by kind.
type countingSource struct {
	statesync.ProofSource
	changes, fallbacks atomic.Int64
}

func (s *countingSource) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	p, err := s.ProofSource.ChangeProof(ctx, base, root, start, end, maxEntries, maxBytes)
	if err == nil {
		var cp merkle.ChangeProof
		if cp.UnmarshalBinary(p.Bytes) == nil && cp.Fallback {
			s.fallbacks.Add(1)
		} else {
			s.changes.Add(1)
		}
	}
	return p, err
}

// hookSink calls hook after the n-th successful apply.
type hookSink struct {
	statesync.ProofSink
	n       int64
	applies atomic.Int64
	hook    func()
}

func (s *hookSink) Apply(ctx context.Context, req statesync.ApplyRequest) (statesync.ApplyResult, error) {
	res, err := s.ProofSink.Apply(ctx, req)
	if err == nil && s.applies.Add(1) == s.n {
		s.hook()
	}
	return res, err
}
