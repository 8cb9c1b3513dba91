package statesync

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hpfs/hpnode/merkle"
)

// TestSplitIndexCoversEveryEntryInKeyOrder: the index built from directories listed several at
// a time holds every entry of the tree once, in key order, with its weight, and its split keys
// cut a range strictly inside it.
func TestSplitIndexCoversEveryEntryInKeyOrder(t *testing.T) {
	st := merkle.NewMemStore()
	files := genFiles(200, 1000, 5)
	root := buildTree(t, st, merkle.EmptyRoot(), files)
	var inFlight, most atomic.Int64
	list := func(ctx context.Context, r merkle.Hash, p string, dir merkle.Hash) ([]merkle.Entry, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		return storeLister(st)(ctx, r, p, dir)
	}
	x, err := buildIndex(context.Background(), list, root)
	if err != nil {
		t.Fatal(err)
	}
	// 200 files, 7 directories under state/, state/ itself and patch.cfg.
	if want := uint64(len(files) + 7 + 1); x.entries != want || len(x.keys) != int(want) {
		t.Fatalf("%d entries, %d keys; want %d", x.entries, len(x.keys), want)
	}
	if x.bytes != 200*1000+uint64(len(files["patch.cfg"])) {
		t.Fatalf("%d bytes indexed", x.bytes)
	}
	for i := 1; i < len(x.keys); i++ {
		if bytes.Compare(x.keys[i-1], x.keys[i]) >= 0 || x.cum[i] <= x.cum[i-1] {
			t.Fatalf("key %d (%q) not after key %d (%q), or weight not growing", i, x.keys[i], i-1, x.keys[i-1])
		}
	}
	hints := x.split(x.keys[0], nil, 5)
	if len(hints) != 5 {
		t.Fatalf("%d hints, want 5", len(hints))
	}
	for i, h := range hints {
		if bytes.Compare(h, x.keys[0]) <= 0 || (i > 0 && bytes.Compare(hints[i-1], h) >= 0) {
			t.Fatalf("hint %d (%q) out of order", i, h)
		}
	}
	if most.Load() > indexListers {
		t.Fatalf("%d listings ran at once, bound %d", most.Load(), indexListers)
	}
}

// TestSplitIndexReportsAFailedListing: a directory that cannot be listed fails the index (and
// names the directory); no listing is left running.
func TestSplitIndexReportsAFailedListing(t *testing.T) {
	st := merkle.NewMemStore()
	root := buildTree(t, st, merkle.EmptyRoot(), genFiles(50, 10, 1))
	var running atomic.Int64
	list := func(ctx context.Context, r merkle.Hash, p string, dir merkle.Hash) ([]merkle.Entry, error) {
		running.Add(1)
		defer running.Add(-1)
		if p == "state/d03" {
			return nil, errors.New("gone")
		}
		return storeLister(st)(ctx, r, p, dir)
	}
	_, err := buildIndex(context.Background(), list, root)
	if err == nil || !strings.Contains(err.Error(), `"state/d03"`) {
		t.Fatalf("index with a failing directory: %v", err)
	}
	if n := running.Load(); n != 0 {
		t.Fatalf("%d listings still running after the index failed", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := buildIndex(ctx, list, root); !errors.Is(err, context.Canceled) {
		t.Fatalf("index with a cancelled context: %v", err)
	}
}
