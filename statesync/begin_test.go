package statesync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/p2p"
)

// beginSink is a StoreSink that is also a Beginner answering begin with a fixed result.
type beginSink struct {
	*StoreSink
	begin ApplyResult
	err   error
	calls int
}

func (s *beginSink) Begin(context.Context, merkle.Hash) (ApplyResult, error) {
	s.calls++
	return s.begin, s.err
}

// TestClientBeginDoneFetchesNothing: a sink that already holds the target ends the sync before
// any request.
func TestClientBeginDoneFetchesNothing(t *testing.T) {
	net := &fakeNet{peers: []p2p.PeerID{pid(1)}, do: func(context.Context, p2p.PeerID, []byte) ([]byte, error) {
		t.Error("a request was sent for a target the sink holds")
		return nil, errors.New("unexpected")
	}}
	sink := &beginSink{StoreSink: NewStoreSink(merkle.NewMemStore(), testParams), begin: ApplyResult{Done: true}}
	cl := NewClient(net, sink, Config{Logger: quietLogger()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Run(ctx, h(1)); err != nil {
		t.Fatal(err)
	}
	if sink.calls != 1 || !cl.Progress().Done {
		t.Fatalf("begin calls %d, progress %+v", sink.calls, cl.Progress())
	}
}

// TestClientBeginErrors: a failing begin, and a begin that claims neither done nor missing
// anything, stop the sync with an error saying so.
func TestClientBeginErrors(t *testing.T) {
	net := &fakeNet{peers: []p2p.PeerID{pid(1)}, do: func(ctx context.Context, _ p2p.PeerID, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	for _, c := range []struct {
		sink *beginSink
		want string
	}{
		{&beginSink{err: errors.New("daemon gone")}, "daemon gone"},
		{&beginSink{}, "misses nothing"},
	} {
		c.sink.StoreSink = NewStoreSink(merkle.NewMemStore(), testParams)
		cl := NewClient(net, c.sink, Config{Logger: quietLogger()})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cl.Run(ctx, h(1))
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("Run = %v, want an error containing %q", err, c.want)
		}
	}
}

// TestClientResumesFromBeginRanges: the client fetches exactly what the sink says it misses,
// as change proofs from the base it names.
func TestClientResumesFromBeginRanges(t *testing.T) {
	files1 := genFiles(200, 3000, 4)
	files2 := map[string][]byte{}
	for p, d := range files1 {
		files2[p] = d
	}
	files2["d01/f000008"] = []byte("changed")
	var root1, root2 merkle.Hash
	c := newCluster(t, 2, func(st merkle.NodeStore) []merkle.Hash {
		root1 = buildTree(t, st, merkle.EmptyRoot(), files1)
		root2 = buildTree(t, st, root1, files2)
		return []merkle.Hash{root1, root2}
	}, nil)
	local := merkle.NewMemStore()
	buildTree(t, local, merkle.EmptyRoot(), files1)
	inner := NewStoreSink(local, testParams)
	// Prime the sink at root1 as held in full, so change proofs from it verify.
	if _, err := inner.Apply(context.Background(), ApplyRequest{Target: root1, Kind: ProofRange, Start: merkle.Key{},
		Verified: &merkle.Verified{Root: root1, Start: merkle.Key{}}}); err != nil {
		t.Fatal(err)
	}
	sink := &beginSink{StoreSink: inner, begin: ApplyResult{Remaining: []merkle.KeyRange{{Start: merkle.Key{}, Base: root1}}}}
	cl := syncClient(c, sink, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Run(ctx, root2); err != nil {
		t.Fatal(err)
	}
	checkTree(t, local, root2, files2)
	if p := cl.Progress(); p.ProofBytes*10 > 200*3000 {
		t.Fatalf("moved %d proof bytes to change one file", p.ProofBytes)
	}
}
