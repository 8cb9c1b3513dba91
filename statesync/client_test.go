package statesync

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

// fakeNet is a Network of fixed peers whose requests are answered by do.
type fakeNet struct {
	peers  []p2p.PeerID
	do     func(ctx context.Context, to p2p.PeerID, req []byte) ([]byte, error)
	active atomic.Int64
}

func (n *fakeNet) Peers() []p2p.PeerInfo {
	out := make([]p2p.PeerInfo, len(n.peers))
	for i, id := range n.peers {
		out[i] = p2p.PeerInfo{ID: id}
	}
	return out
}

func (n *fakeNet) Request(ctx context.Context, to p2p.PeerID, _ p2p.Kind, req []byte, _ int) ([]byte, error) {
	n.active.Add(1)
	defer n.active.Add(-1)
	return n.do(ctx, to, req)
}

func TestClientCancellationStopsEveryRequest(t *testing.T) {
	net := &fakeNet{peers: []p2p.PeerID{pid(1), pid(2)}, do: func(ctx context.Context, _ p2p.PeerID, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	cl := NewClient(net, NewStoreSink(merkle.NewMemStore(), testParams), Config{Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- cl.Run(ctx, h(1)) }()
	deadline := time.Now().Add(5 * time.Second)
	for net.active.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no request started")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if n := net.active.Load(); n != 0 {
		t.Fatalf("%d requests still running after Run returned", n)
	}
}

func TestClientWithoutPeersWaitsUntilDeadline(t *testing.T) {
	net := &fakeNet{do: func(context.Context, p2p.PeerID, []byte) ([]byte, error) { panic("no peer to ask") }}
	cl := NewClient(net, NewStoreSink(merkle.NewMemStore(), testParams), Config{Logger: quietLogger()})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := cl.Run(ctx, h(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want DeadlineExceeded", err)
	}
}

func TestClientRefusesSecondConcurrentRun(t *testing.T) {
	net := &fakeNet{peers: []p2p.PeerID{pid(1)}, do: func(ctx context.Context, _ p2p.PeerID, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	cl := NewClient(net, NewStoreSink(merkle.NewMemStore(), testParams), Config{Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- cl.Run(ctx, h(1)) }()
	for net.active.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := cl.Run(context.Background(), h(1)); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Run = %v, want ErrAlreadyRunning", err)
	}
	cancel()
	<-errc
}

// brokenSink fails every apply with a storage error (not a bad proof).
type brokenSink struct{}

func (brokenSink) Apply(context.Context, ApplyRequest) (ApplyResult, error) {
	return ApplyResult{}, errors.New("store is read-only")
}

func TestClientStopsWhenTheSinkFails(t *testing.T) {
	src, root := serverFixture(t)
	srv := NewServer(src, ServerConfig{Logger: quietLogger()})
	net := &fakeNet{peers: []p2p.PeerID{pid(1)}, do: func(ctx context.Context, from p2p.PeerID, req []byte) ([]byte, error) {
		return srv.Handle(ctx, from, req)
	}}
	cl := NewClient(net, brokenSink{}, Config{Logger: quietLogger()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cl.Run(ctx, root)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || cl.Progress().DroppedPeers != 0 {
		t.Fatalf("Run = %v (dropped %d), want the sink's error and no peer blamed", err, cl.Progress().DroppedPeers)
	}
}

// FuzzClientVerify feeds arbitrary response bytes to the client's verification of a request
// for a known root: it must never panic, and whatever it accepts must be the truth.
func FuzzClientVerify(f *testing.F) {
	st := merkle.NewMemStore()
	root := buildTree(f, st, merkle.EmptyRoot(), genFiles(6, 300, 1))
	src := NewStoreSource(st)
	src.AddRoot(root)
	for _, limit := range []int{1, 3, 0} {
		p, err := src.RangeProof(context.Background(), root, merkle.Key{}, nil, limit, 0)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := (&Response{Status: StatusOK, Kind: ProofRange, Proof: p.Bytes}).MarshalBinary()
		f.Add(b)
	}
	cl := NewClient(&fakeNet{}, NewStoreSink(merkle.NewMemStore(), testParams), Config{Logger: quietLogger()})
	req := Request{Kind: ProofRange, Root: root, Start: merkle.Key{}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp Response
		if resp.UnmarshalBinary(b) != nil || resp.Status != StatusOK || resp.Kind != ProofRange {
			return
		}
		var res fetchResult
		ar, err := cl.verify(req, resp, &res)
		if err != nil {
			return
		}
		// Accepted: it must apply cleanly to a fresh store and everything it revealed must match
		// the real tree.
		sink := NewStoreSink(merkle.NewMemStore(), testParams)
		if _, err := sink.Apply(context.Background(), ar); err != nil {
			t.Fatalf("accepted proof does not apply: %v", err)
		}
		for _, n := range ar.Verified.Nodes {
			if real, err := st.GetNode(n.Hash); err != nil || string(real) != string(n.Data) {
				t.Fatalf("accepted a node the real tree does not have")
			}
		}
	})
}
