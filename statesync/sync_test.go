package statesync

import (
	"context"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

func syncClient(c *cluster, sink ProofSink, cfg Config) *Client {
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	return NewClient(c.client, sink, cfg)
}

func TestBlankClientReproducesRootFromThreeServers(t *testing.T) {
	files := genFiles(600, 5000, 1)
	var root merkle.Hash
	c := newCluster(t, 3, func(st merkle.NodeStore) []merkle.Hash {
		root = buildTree(t, st, merkle.EmptyRoot(), files)
		return []merkle.Hash{root}
	}, nil)
	local := merkle.NewMemStore()
	cl := syncClient(c, NewStoreSink(local, testParams), Config{Scheduler: SchedulerConfig{MaxBytes: 256 << 10, MaxInFlight: 6, PerPeer: 2}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Run(ctx, root); err != nil {
		t.Fatal(err)
	}
	checkTree(t, local, root, files)
	p := cl.Progress()
	if !p.Done || p.Percent != 100 || p.Entries == 0 || p.Bytes < 600*5000 {
		t.Fatalf("progress after sync: %+v", p)
	}
}
