package statesync

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

const testContract = "statesync-test-contract"

var testParams = merkle.Params{LeafSize: 4096}

// buildTree writes files (path -> content) into store on top of base and returns the new root.
// Parent directories are created as needed; a nil content removes the path.
func buildTree(t testing.TB, store merkle.NodeStore, base merkle.Hash, files map[string][]byte) merkle.Hash {
	t.Helper()
	e, err := merkle.NewEditor(store, base, testParams)
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data := files[p]
		if data == nil {
			if err := e.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mkdirs(t, e, store, path.Dir(p))
		leaves := map[uint64]merkle.Hash{}
		for i := 0; i*testParams.LeafSize < len(data); i++ {
			chunk := data[i*testParams.LeafSize : min(len(data), (i+1)*testParams.LeafSize)]
			h := merkle.LeafHash(chunk)
			if err := store.PutLeaf(h, chunk); err != nil {
				t.Fatal(err)
			}
			leaves[uint64(i)] = h
		}
		if err := e.WriteFile(p, 0o644, uint64(len(data)), leaves); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
	}
	root, err := e.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func mkdirs(t testing.TB, e *merkle.Editor, store merkle.NodeStore, dir string) {
	if dir == "." || dir == "" {
		return
	}
	mkdirs(t, e, store, path.Dir(dir))
	if err := e.Mkdir(dir, 0o755); err != nil && !strings.Contains(err.Error(), "exists") {
		t.Fatalf("mkdir %s: %v", dir, err)
	}
}

// genFiles returns n files under state/ spread over a few directories, sized size bytes each
// (seeded, so every call with the same arguments gives the same tree).
func genFiles(n, size int, seed byte) map[string][]byte {
	files := make(map[string][]byte, n)
	for i := range n {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i*31+j*7) ^ seed
		}
		files[fmt.Sprintf("state/d%02d/f%06d", i%7, i)] = data
	}
	files["patch.cfg"] = []byte(`{"version":"1"}`)
	return files
}

func newTestKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startP2P starts a mesh node on loopback, bootstrapped to addrs, closed at cleanup.
func startP2P(t testing.TB, bootstrap ...string) *p2p.Node {
	t.Helper()
	n, err := p2p.New(p2p.Config{
		Key:              newTestKey(t),
		ContractID:       testContract,
		ListenAddr:       "127.0.0.1:0",
		Bootstrap:        bootstrap,
		MaxConnsPerHost:  64,
		HandshakeTimeout: 3 * time.Second,
		DialInterval:     100 * time.Millisecond,
		BackoffMin:       100 * time.Millisecond,
		BackoffMax:       time.Second,
		PingInterval:     time.Hour,
		BytesPerMinute:   1 << 40,
		Logger:           quietLogger(),
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

// waitPeers waits until n is connected to want peers.
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

// cluster is a set of serving nodes, each over its own store, and a blank client node.
type cluster struct {
	servers []*p2p.Node
	sources []*StoreSource
	stores  []*merkle.MemStore
	client  *p2p.Node
}

// newCluster starts n servers whose stores hold the trees at roots built by fill, and a client
// connected to all of them. wrap, if set, may replace a server's source (a liar).
func newCluster(t testing.TB, n int, fill func(store merkle.NodeStore) []merkle.Hash, wrap func(i int, s ProofSource) ProofSource) *cluster {
	t.Helper()
	c := &cluster{}
	var addrs []string
	for i := range n {
		st := merkle.NewMemStore()
		src := NewStoreSource(st)
		for _, r := range fill(st) {
			src.AddRoot(r)
		}
		var ps ProofSource = src
		if wrap != nil {
			ps = wrap(i, src)
		}
		node := startP2P(t)
		NewServer(ps, ServerConfig{Logger: quietLogger()}).Register(node)
		c.servers = append(c.servers, node)
		c.sources = append(c.sources, src)
		c.stores = append(c.stores, st)
		addrs = append(addrs, node.Addr().String())
	}
	c.client = startP2P(t, addrs...)
	waitPeers(t, c.client, n)
	return c
}

// checkTree fails unless store holds the whole tree at root with the same files as want.
func checkTree(t testing.TB, store merkle.NodeStore, root merkle.Hash, want map[string][]byte) {
	t.Helper()
	for p, data := range want {
		if data == nil {
			if _, err := merkle.Lookup(store, root, p); err == nil {
				t.Fatalf("%s present, want removed", p)
			}
			continue
		}
		e, err := merkle.Lookup(store, root, p)
		if err != nil {
			t.Fatalf("lookup %s: %v", p, err)
		}
		leaves, err := merkle.FileLeaves(store, e.Hash)
		if err != nil {
			t.Fatalf("leaves of %s: %v", p, err)
		}
		var got []byte
		for _, l := range leaves {
			b, err := store.GetLeaf(l)
			if err != nil {
				t.Fatalf("leaf of %s: %v", p, err)
			}
			got = append(got, b...)
		}
		if string(got) != string(data) {
			t.Fatalf("%s: %d bytes differ from the %d expected", p, len(got), len(data))
		}
	}
	// Rebuilding the same files from scratch must give the same root: the copy is exact.
	if got := buildTree(t, merkle.NewMemStore(), merkle.EmptyRoot(), want); got != root {
		t.Fatalf("scratch root %s, synced root %s", got, root)
	}
}
