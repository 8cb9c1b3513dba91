package statesync

import (
	"context"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// TestLyingServerIsDroppedAndSyncCompletes runs a sync from two honest servers and one liar per
// kind of lie: the liar must be asked, dropped (or, for NACKs, routed around), and the client
// must still reproduce the root exactly.
func TestLyingServerIsDroppedAndSyncCompletes(t *testing.T) {
	files := genFiles(250, 3000, 2)
	otherStore := merkle.NewMemStore()
	otherFiles := genFiles(250, 3000, 9)
	otherRoot := buildTree(t, otherStore, merkle.EmptyRoot(), otherFiles)
	other := NewStoreSource(otherStore)
	other.AddRoot(otherRoot)

	cases := []struct {
		name    string
		tamper  func(root merkle.Hash, start, end merkle.Key, p Proof) (Proof, error)
		dropped bool
	}{
		{"flipped byte", func(_ merkle.Hash, _, _ merkle.Key, p Proof) (Proof, error) {
			b := append([]byte(nil), p.Bytes...)
			b[len(b)-1] ^= 0x40
			return Proof{Kind: p.Kind, Bytes: b, End: p.End}, nil
		}, true},
		{"empty proof", func(_ merkle.Hash, _, end merkle.Key, p Proof) (Proof, error) {
			return rewriteRange(p, func(rp *merkle.RangeProof) { rp.Nodes, rp.Leaves, rp.End = nil, nil, end })
		}, true},
		{"dropped leaf", func(_ merkle.Hash, _, _ merkle.Key, p Proof) (Proof, error) {
			return rewriteRange(p, func(rp *merkle.RangeProof) {
				if len(rp.Leaves) > 0 {
					rp.Leaves = rp.Leaves[:len(rp.Leaves)-1]
				}
			})
		}, true},
		{"truncated but claims complete", func(_ merkle.Hash, _, end merkle.Key, p Proof) (Proof, error) {
			return rewriteRange(p, func(rp *merkle.RangeProof) { rp.End = end })
		}, true},
		{"proof of another root", func(_ merkle.Hash, start, end merkle.Key, _ Proof) (Proof, error) {
			return other.RangeProof(context.Background(), otherRoot, start, end, 50, 64<<10)
		}, true},
		{"garbage", func(merkle.Hash, merkle.Key, merkle.Key, Proof) (Proof, error) {
			return Proof{Kind: ProofRange, Bytes: []byte("../../etc/passwd")}, nil
		}, true},
		{"change proof for a range request", func(_ merkle.Hash, _, _ merkle.Key, p Proof) (Proof, error) {
			return FallbackProof(p)
		}, true},
		{"huge response", func(merkle.Hash, merkle.Key, merkle.Key, Proof) (Proof, error) {
			return Proof{Kind: ProofRange, Bytes: make([]byte, 40<<20)}, nil
		}, true},
		{"nack", func(merkle.Hash, merkle.Key, merkle.Key, Proof) (Proof, error) {
			return Proof{}, ErrUnknownRoot
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var root merkle.Hash
			var liar *lyingSource
			c := newCluster(t, 3, func(st merkle.NodeStore) []merkle.Hash {
				root = buildTree(t, st, merkle.EmptyRoot(), files)
				return []merkle.Hash{root}
			}, func(i int, s ProofSource) ProofSource {
				if i != 0 {
					return s
				}
				liar = &lyingSource{ProofSource: s, tamper: tc.tamper}
				return liar
			})
			local := merkle.NewMemStore()
			// PerPeer 1 and a small work limit make sure the liar gets asked early.
			cl := syncClient(c, NewStoreSink(local, testParams), Config{Scheduler: SchedulerConfig{
				MaxBytes: 64 << 10, MaxEntries: 50, MaxInFlight: 3, PerPeer: 1}})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := cl.Run(ctx, root); err != nil {
				t.Fatal(err)
			}
			checkTree(t, local, root, files)
			if liar.asked.Load() == 0 {
				t.Fatal("the liar was never asked")
			}
			p := cl.Progress()
			if want := map[bool]int{true: 1, false: 0}[tc.dropped]; p.DroppedPeers != want {
				t.Fatalf("dropped peers %d, want %d", p.DroppedPeers, want)
			}
			if tc.dropped && liar.asked.Load() != 1 {
				t.Fatalf("liar asked %d times; a dropped peer must not be asked again", liar.asked.Load())
			}
		})
	}
}
