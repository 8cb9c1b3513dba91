package statesync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

func serverFixture(t *testing.T) (*StoreSource, merkle.Hash) {
	st := merkle.NewMemStore()
	root := buildTree(t, st, merkle.EmptyRoot(), genFiles(40, 2000, 1))
	src := NewStoreSource(st)
	src.AddRoot(root)
	return src, root
}

func ask(t *testing.T, s *Server, req Request) Response {
	t.Helper()
	body, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return askRaw(t, s, body)
}

func askRaw(t *testing.T, s *Server, body []byte) Response {
	t.Helper()
	b, err := s.Handle(context.Background(), pid(9), body)
	if err != nil {
		t.Fatal(err)
	}
	var resp Response
	if err := resp.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestServerAnswersBadRequestWithCode(t *testing.T) {
	src, _ := serverFixture(t)
	s := NewServer(src, ServerConfig{Logger: quietLogger()})
	for _, body := range [][]byte{nil, {WireVersion}, []byte("garbage that is long enough to be something")} {
		if r := askRaw(t, s, body); r.Status != StatusError || r.Code != CodeBadRequest {
			t.Fatalf("%q: %+v, want CodeBadRequest", body, r)
		}
	}
}

func TestServerNacksUnknownRootListingItsRoots(t *testing.T) {
	src, root := serverFixture(t)
	s := NewServer(src, ServerConfig{Logger: quietLogger()})
	r := ask(t, s, Request{Kind: ProofRange, Root: h(7), Start: merkle.Key{}})
	if r.Status != StatusNack || len(r.Roots) != 1 || r.Roots[0] != root {
		t.Fatalf("%+v, want a NACK listing %s", r, root)
	}
	r = ask(t, s, Request{Kind: ProofChange, Root: h(7), Base: root, Start: merkle.Key{}})
	if r.Status != StatusNack {
		t.Fatalf("change request to an unknown root: %+v, want NACK", r)
	}
}

func TestServerClampsLimitsAndHintsTheRest(t *testing.T) {
	src, root := serverFixture(t)
	s := NewServer(src, ServerConfig{Logger: quietLogger(), MaxEntries: 5})
	r := ask(t, s, Request{Kind: ProofRange, Root: root, Start: merkle.Key{}, MaxEntries: 1000, Hints: 4})
	if r.Status != StatusOK || r.Kind != ProofRange {
		t.Fatalf("%+v", r)
	}
	var p merkle.RangeProof
	if err := p.UnmarshalBinary(r.Proof); err != nil {
		t.Fatal(err)
	}
	v, err := merkle.VerifyRangeProof(&p, root, merkle.Key{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Entries) != 5 || v.Complete {
		t.Fatalf("%d entries (complete %v), want the server's cap of 5", len(v.Entries), v.Complete)
	}
	if len(r.Hints) == 0 || len(r.Hints) > 4 || r.Totals.Entries == 0 {
		t.Fatalf("hints %v totals %+v, want 1..4 hints and totals", r.Hints, r.Totals)
	}
	prev := v.End
	for _, k := range r.Hints {
		if string(k) <= string(prev) {
			t.Fatalf("hints %v not increasing after proof end %s", r.Hints, v.End)
		}
		prev = k
	}
	full := ask(t, s, Request{Kind: ProofRange, Root: root, Start: merkle.Key("state\x00d06\x00f000041\x00"), Hints: 4})
	if full.Status != StatusOK || len(full.Hints) != 0 {
		t.Fatalf("a complete proof must carry no hints: %+v", full.Hints)
	}
}

// blockingSource blocks every proof until release is closed.
type blockingSource struct {
	ProofSource
	entered chan struct{}
	release chan struct{}
}

func (s *blockingSource) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, me, mb int) (Proof, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.ProofSource.RangeProof(ctx, root, start, end, me, mb)
}

func TestServerSaysBusyAtItsConcurrencyLimit(t *testing.T) {
	src, root := serverFixture(t)
	bs := &blockingSource{ProofSource: src, entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := NewServer(bs, ServerConfig{Logger: quietLogger(), MaxConcurrent: 1, BusyWait: 10 * time.Millisecond})
	req := Request{Kind: ProofRange, Root: root, Start: merkle.Key{}}
	done := make(chan Response, 1)
	go func() { done <- ask(t, s, req) }()
	<-bs.entered
	if r := ask(t, s, req); r.Status != StatusError || r.Code != CodeBusy {
		t.Fatalf("second request while the first runs: %+v, want CodeBusy", r)
	}
	close(bs.release)
	if r := <-done; r.Status != StatusOK {
		t.Fatalf("first request: %+v", r)
	}
}

// failingSource fails every proof.
type failingSource struct{ ProofSource }

func (failingSource) RangeProof(context.Context, merkle.Hash, merkle.Key, merkle.Key, int, int) (Proof, error) {
	return Proof{}, errors.New("disk on fire")
}

func TestServerReportsInternalErrors(t *testing.T) {
	src, root := serverFixture(t)
	s := NewServer(failingSource{src}, ServerConfig{Logger: quietLogger()})
	if r := ask(t, s, Request{Kind: ProofRange, Root: root, Start: merkle.Key{}}); r.Status != StatusError || r.Code != CodeInternal || r.Message == "" {
		t.Fatalf("%+v, want CodeInternal with a message", r)
	}
}
