package hpfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hpfs/hpnode/merkle"
)

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"op":"rw.begin"}`))
	f.Add([]byte(`{"op":"ro.open","name":"x","version":"00"}`))
	f.Add([]byte(`{"op":"range-proof","start":"AA==","max_entries":3}`))
	f.Add([]byte(`{"op":"hash"} {"op":"hash"}`))
	f.Add([]byte(`{"op":"x","bogus":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(bytes.NewReader(b))
		if err != nil {
			return
		}
		if req.Op == "" {
			t.Fatalf("accepted a request without op: %q", b)
		}
		// An accepted request survives a round trip unchanged.
		enc, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRequest(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		if again.Op != req.Op || again.Name != req.Name || !bytes.Equal(again.Proof, req.Proof) {
			t.Fatalf("round trip changed the request: %+v vs %+v", req, again)
		}
	})
}

func TestDecodeRequestRejectsBadInput(t *testing.T) {
	cases := map[string]string{
		"empty":          ``,
		"not json":       `hello`,
		"no op":          `{"name":"x"}`,
		"unknown field":  `{"op":"hash","bogus":true}`,
		"trailing data":  `{"op":"hash"} {"op":"hash"}`,
		"bad base64":     `{"op":"range-proof","start":"!!"}`,
		"wrong type":     `{"op":"hash","max_entries":"many"}`,
		"truncated json": `{"op":"ha`,
	}
	for name, in := range cases {
		if _, err := DecodeRequest(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted %q", name, in)
		}
	}
}

func TestControlSocketReportsErrors(t *testing.T) {
	d := startDaemon(t, t.TempDir(), 0)
	cases := []Request{
		{Op: "no-such-op"},
		{Op: OpHash, Version: "zz"},
		{Op: OpHash, Version: strings.Repeat("ab", 32)},
		{Op: OpHash, Path: "/abs"},
		{Op: OpHash, Path: "state/missing"},
		{Op: OpLs, Path: "a//b"},
		{Op: OpDiff, Root1: "00", Root2: ""},
		{Op: OpROOpen, Name: "../x"},
		{Op: OpRWCommit},
		{Op: OpApplyProof, Target: "nothex", Kind: "range"},
		{Op: OpApplyProof, Target: d.Store().Head().Root.String(), Kind: "sideways"},
		{Op: OpApplyProof, Target: d.Store().Head().Root.String(), Kind: "range", Proof: []byte{1, 2, 3}},
		{Op: OpChangeProof, Root1: "x"},
	}
	for _, req := range cases {
		if _, err := d.Handle(req); err == nil {
			t.Errorf("%+v: no error", req)
		}
	}
	sock := filepath.Join(t.TempDir(), "s.sock")
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- d.ServeControl(ctx, sock) }()
	waitSocket(t, sock)
	var vi VersionInfo
	if err := Call(sock, Request{Op: OpRWBegin}, &vi); err != nil {
		t.Fatalf("rw.begin over the socket: %v", err)
	}
	if err := Call(sock, Request{Op: OpRWBegin}, &vi); err == nil || !strings.Contains(err.Error(), ErrSessionOpen.Error()) {
		t.Fatalf("second rw.begin over the socket: %v, want %v", err, ErrSessionOpen)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServeControl after cancel: %v", err)
	}
}

// TestApplyProofSyncsAnotherStore serves range proofs from one daemon and applies them to an
// empty one, with small proofs so the sync takes many steps; the target then becomes the
// second store's head and its files read back.
func TestApplyProofSyncsAnotherStore(t *testing.T) {
	src := startDaemon(t, t.TempDir(), 0)
	mustBegin(t, src)
	r := rand.New(rand.NewPCG(5, 6))
	big := randBytes(r, 500_000)
	writeFile(t, src.path("rw", "state", "big"), big)
	for i := range 30 {
		writeFile(t, src.path("rw", "state", "f"+itoa(uint64(i))), []byte("file "+itoa(uint64(i))))
	}
	writeFile(t, src.path("rw", "patch.cfg"), []byte("{}"))
	res := mustCommit(t, src)
	target := res.Version.Root

	dst := startDaemon(t, t.TempDir(), 0)
	var start merkle.Key
	var pending []KeyRange
	for step := 0; ; step++ {
		if step > 1000 {
			t.Fatal("sync does not converge")
		}
		pr, err := src.Handle(Request{Op: OpRangeProof, Version: target.String(), Start: start, MaxEntries: 7, MaxBytes: 100_000})
		if err != nil {
			t.Fatal(err)
		}
		out, err := dst.Handle(Request{Op: OpApplyProof, Kind: "range", Target: target.String(), Start: start, Proof: pr.(ProofInfo).Proof})
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		ai := out.(ApplyInfo)
		if ai.Done {
			if ai.Version == nil || ai.Version.Root != target.String() {
				t.Fatalf("done without the target version: %+v", ai)
			}
			break
		}
		pending = ai.Remaining
		start = pending[0].Start
	}
	if dst.Store().Head().Root != target {
		t.Fatalf("dst head %s, want %s", dst.Store().Head().Root, target)
	}
	equalBytes(t, "synced big", readFile(t, dst.path("current", "state", "big")), big)
	checkScratch(t, dst.path("current"), target)
	// A tampered proof is refused before anything is stored.
	pr, err := src.Handle(Request{Op: OpRangeProof, Version: target.String()})
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), pr.(ProofInfo).Proof...)
	bad[len(bad)/2] ^= 0xff
	if _, err := dst.Handle(Request{Op: OpApplyProof, Kind: "range", Target: target.String(), Proof: bad}); err == nil {
		t.Fatal("tampered proof accepted")
	}
}

// TestOldVersionsAreDroppedAndSpaceReclaimed commits more versions than Keep and checks that
// exactly the objects reachable from the kept versions remain, with matching refcounts.
func TestOldVersionsAreDroppedAndSpaceReclaimed(t *testing.T) {
	store := t.TempDir()
	d := startDaemon(t, store, 3)
	r := rand.New(rand.NewPCG(9, 9))
	var roots []merkle.Hash
	for i := range 7 {
		mustBegin(t, d)
		writeFile(t, d.path("rw", "state", "f"+itoa(uint64(i%2))), randBytes(r, 150_000))
		if i == 3 {
			writeFile(t, d.path("rw", "state", "keep"), []byte("shared"))
		}
		roots = append(roots, mustCommit(t, d).Version.Root)
	}
	vs := d.Store().Versions()
	if len(vs) != 3 || vs[2].Root != roots[6] || vs[0].Root != roots[4] {
		t.Fatalf("kept versions %v, want the last 3 of %v", vs, roots)
	}
	if _, err := d.OpenRO("old", &roots[1]); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("ro open of a dropped version: %v, want ErrUnknownVersion", err)
	}
	checkRefcounts(t, d.Store())
	// A pinned version survives commits until its session closes.
	if _, err := d.OpenRO("pin", &roots[4]); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		mustBegin(t, d)
		writeFile(t, d.path("rw", "state", "f0"), randBytes(r, 1000))
		mustCommit(t, d)
	}
	if !d.Store().HasVersion(roots[4]) {
		t.Fatal("pinned version dropped")
	}
	checkRefcounts(t, d.Store())
	if err := d.CloseRO("pin"); err != nil {
		t.Fatal(err)
	}
	if d.Store().HasVersion(roots[4]) {
		t.Fatal("unpinned old version kept")
	}
	checkRefcounts(t, d.Store())
}

// checkRefcounts recomputes every refcount from the kept versions and compares it with the DB,
// and checks that no unreferenced object is stored.
func checkRefcounts(t *testing.T, s *Store) {
	t.Helper()
	want := map[string]uint64{}
	var visit func(tag byte, h merkle.Hash)
	visit = func(tag byte, h merkle.Hash) {
		k := string(refKey(tag, h))
		want[k]++
		if want[k] > 1 || tag == tagLeaf {
			return
		}
		data, err := s.GetNode(h)
		if err != nil {
			t.Fatalf("node %s: %v", h, err)
		}
		nodes, leaves, err := merkle.NodeRefs(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leaves {
			visit(tagLeaf, l)
		}
		for _, n := range nodes {
			visit(tagNode, n)
		}
	}
	for _, v := range s.Versions() {
		visit(tagNode, v.Root)
	}
	got := map[string]uint64{}
	objects := 0
	it, err := s.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		switch k[0] {
		case tagRef:
			got[string(k)] = beUint64(it.Value())
		case tagNode, tagLeaf:
			objects++
		}
	}
	if len(got) != len(want) || objects != len(want) {
		t.Fatalf("stored %d refcounts and %d objects, reachable %d", len(got), objects, len(want))
	}
	for k, c := range want {
		if got[k] != c {
			t.Fatalf("refcount %x = %d, want %d", k, got[k], c)
		}
	}
}
