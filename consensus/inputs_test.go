package consensus

import (
	"testing"
	"time"
)

func submit(t *testing.T, tn *testNet, node int, ins ...Input) {
	t.Helper()
	if err := tn.nodes[node].Step(Message{Type: MsgSubmit, Inputs: ins}); err != nil {
		t.Fatal(err)
	}
	tn.drain()
}

func reasonFor(tn *testNet, node int, in Input) (InputStatus, bool) {
	for _, st := range tn.statuses(node) {
		if st.Hash == in.Hash() {
			return st, true
		}
	}
	return InputStatus{}, false
}

func TestInputRejectionReasons(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	for i := range tn.nodes {
		tn.nodes[i].cfg.MaxInputLedgerOffset = 20
		tn.nodes[i].cfg.UserInputBytes = 100
	}
	first := tn.input(1, 5, 10, "first")
	submit(t, tn, 0, first)
	tn.runUntil(2, 2*time.Second)

	bad := tn.input(1, 6, 10, "tampered")
	bad.Container = []byte("tampered!")
	cases := []struct {
		name string
		in   Input
		want Reason
	}{
		{"bad signature", bad, ReasonBadSig},
		{"max ledger already closed", tn.input(1, 7, 2, "late"), ReasonMaxLedgerExpired},
		{"max ledger beyond offset", tn.input(1, 8, 2+21, "far"), ReasonMaxLedgerOffsetExceeds},
		{"nonce not above the last accepted", tn.input(1, 5, 10, "same nonce, other input"), ReasonNonceExpired},
		{"over the per-user byte limit", tn.input(2, 1, 10, string(make([]byte, 101))), ReasonRoundInputsOverflow},
	}
	for _, c := range cases {
		submit(t, tn, 0, c.in)
		st, ok := reasonFor(tn, 0, c.in)
		if !ok || st.Accepted || st.Reason != c.want {
			t.Errorf("%s: status %+v (found %v), want rejected %q", c.name, st, ok, c.want)
		}
	}
	// With no per-user limit, an input larger than a message may carry is still refused: the batch
	// carrying it would be undecodable for every peer.
	huge := tn.input(3, 1, 10, string(make([]byte, MaxInputBytes+1)))
	unlimited := Config{VerifyInput: VerifyUserSig}
	if r, ok := tn.nodes[0].pool.admit(&unlimited, &huge, true, tn.nodes[0].tip.Seq); ok || r != ReasonRoundInputsOverflow {
		t.Errorf("admit(%d-byte input) = %q, %v", len(huge.Container), r, ok)
	}
	// Submitting an accepted input again is already_submitted, which HotPocket does not report.
	before := len(tn.statuses(0))
	submit(t, tn, 0, first)
	if got := len(tn.statuses(0)); got != before {
		t.Errorf("resubmitting an accepted input produced a status")
	}
	if r, ok := tn.nodes[0].pool.admit(&tn.nodes[0].cfg, &first, true, tn.nodes[0].tip.Seq); ok || r != ReasonAlreadySubmitted {
		t.Errorf("admit(accepted input) = %q, %v; want already_submitted", r, ok)
	}
}

func TestInputsExpireAndOvertakenNoncesAreRejected(t *testing.T) {
	var p = newPool()
	cfg := Config{VerifyInput: func(*Input) error { return nil }}
	tn := newTestNet(t, 1, 0)
	old := tn.input(1, 1, 3, "expires at 3")
	low := tn.input(2, 4, 50, "overtaken")
	high := tn.input(2, 9, 50, "wins")
	for _, in := range []Input{old, low, high} {
		if r, ok := p.admit(&cfg, &in, true, 0); !ok {
			t.Fatalf("admit: %s", r)
		}
	}
	sts := p.commit(1, Hash{1}, []Input{high})
	if len(sts) != 2 {
		t.Fatalf("statuses after ledger 1: %+v", sts)
	}
	for _, st := range sts {
		switch st.Hash {
		case high.Hash():
			if !st.Accepted || st.LedgerSeq != 1 {
				t.Errorf("included input: %+v", st)
			}
		case low.Hash():
			if st.Reason != ReasonNonceExpired {
				t.Errorf("overtaken nonce: %+v", st)
			}
		default:
			t.Errorf("unexpected status %+v", st)
		}
	}
	sts = p.commit(3, Hash{3}, nil)
	if len(sts) != 1 || sts[0].Hash != old.Hash() || sts[0].Reason != ReasonMaxLedgerExpired {
		t.Fatalf("statuses after ledger 3: %+v", sts)
	}
	if len(p.byHash) != 0 {
		t.Fatalf("pool still holds %d inputs", len(p.byHash))
	}
}

func TestPickOrdersAndFiltersDeterministically(t *testing.T) {
	tn := newTestNet(t, 1, 0)
	p := newPool()
	cfg := Config{VerifyInput: func(*Input) error { return nil }, UserInputBytes: 10}
	a1, a2, a3 := tn.input(1, 1, 9, "aaaa"), tn.input(1, 2, 9, "bbbb"), tn.input(1, 3, 9, "cccc") // 12 bytes > 10
	b1 := tn.input(2, 1, 1, "expired for seq 2")
	admitAll := Config{VerifyInput: cfg.VerifyInput}
	for _, in := range []Input{a3, b1, a1, a2} {
		p.admit(&admitAll, &in, false, 0)
	}
	got, users := p.pick(&cfg, []OrderedHash{a3.Ordered(), a1.Ordered(), b1.Ordered(), a2.Ordered(), a1.Ordered()}, 2)
	if len(got) != 2 || got[0] != a1.Ordered() || got[1] != a2.Ordered() || len(users) != 1 || users[0] != a1.User {
		t.Fatalf("pick = %d inputs %v users", len(got), len(users))
	}
}

// TestBurstOf20000Inputs submits 20,000 inputs of 100 users to one node at once (HotPocket
// deadlocks on an 8,000-input burst): every one must be accepted, in nonce order per user.
func TestBurstOf20000Inputs(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	for _, nd := range tn.nodes {
		nd.cfg.VerifyInput = func(*Input) error { return nil } // signatures are not what this measures
	}
	var ins []Input
	for u := 0; u < 100; u++ {
		for k := 1; k <= 200; k++ {
			in := Input{Nonce: uint64(k), MaxLedgerSeq: 1000, Container: []byte("burst")}
			in.User[0], in.User[1] = byte(u), 1
			in.Sig[0], in.Sig[1], in.Sig[2] = byte(u), byte(k), byte(k>>8)
			ins = append(ins, in)
		}
	}
	submit(t, tn, 0, ins...)
	for i := 0; i < 300 && len(tn.statuses(0)) < len(ins); i++ {
		tn.tick(10 * time.Millisecond)
	}
	accepted := 0
	for _, st := range tn.statuses(0) {
		if !st.Accepted {
			t.Fatalf("input rejected: %+v", st)
		}
		accepted++
	}
	if accepted != len(ins) {
		t.Fatalf("%d of %d inputs accepted", accepted, len(ins))
	}
	tn.checkAgreement()
}

// TestRelayedCopyIsNotVerifiedAgain checks that a held input arriving again (relays repeat on round
// retries and new ledgers) costs no second signature check, while a forged variant under the same
// ordered hash is still refused and does not replace the held input.
func TestRelayedCopyIsNotVerifiedAgain(t *testing.T) {
	tn := newTestNet(t, 1, 0)
	nd := tn.nodes[0]
	calls := 0
	cfg := nd.cfg
	cfg.VerifyInput = func(in *Input) error { calls++; return VerifyUserSig(in) }
	in := tn.input(0, 1, 10, "hello")
	if _, ok := nd.pool.admit(&cfg, &in, false, 0); !ok || calls != 1 {
		t.Fatalf("first admission: ok=%v, %d verifications", ok, calls)
	}
	for i := 0; i < 3; i++ {
		if r, ok := nd.pool.admit(&cfg, &in, false, 0); ok || r != ReasonAlreadySubmitted {
			t.Fatalf("copy %d: %q, %v; want already_submitted", i, r, ok)
		}
	}
	if calls != 1 {
		t.Fatalf("%d verifications for one input relayed four times, want 1", calls)
	}
	forged := in
	forged.Container = []byte("forged")
	if r, ok := nd.pool.admit(&cfg, &forged, false, 0); ok || r != ReasonBadSig {
		t.Fatalf("forged copy: %q, %v; want bad_sig", r, ok)
	}
	if got, _ := nd.pool.get([]OrderedHash{in.Ordered()}); string(got[0].Container) != "hello" {
		t.Fatalf("held input replaced by %q", got[0].Container)
	}
}

// TestSubmitVerifiedSkipsOnlyLocalChecks checks that SubmitVerified spares the second signature
// check of a local submission only: a relayed input with a bad signature is still refused.
func TestSubmitVerifiedSkipsOnlyLocalChecks(t *testing.T) {
	tn := newTestNet(t, 1, 0)
	nd := tn.nodes[0]
	calls := 0
	cfg := nd.cfg
	cfg.SubmitVerified = true
	cfg.VerifyInput = func(in *Input) error { calls++; return VerifyUserSig(in) }
	local := tn.input(0, 1, 10, "local")
	if _, ok := nd.pool.admit(&cfg, &local, true, 0); !ok || calls != 0 {
		t.Fatalf("local submission: ok=%v, %d verifications, want admitted unchecked", ok, calls)
	}
	relayed := tn.input(1, 1, 10, "relayed")
	relayed.Container = []byte("tampered")
	if r, ok := nd.pool.admit(&cfg, &relayed, false, 0); ok || r != ReasonBadSig || calls != 1 {
		t.Fatalf("tampered relayed input: %q, %v, %d verifications; want bad_sig after one check", r, ok, calls)
	}
}

// TestRelayedInputFromANodeAheadIsKept is the regression for inputs lost to a peer that lags the
// submitting node by a ledger: the client sets MaxLedgerSeq to the submitting node's tip plus the
// offset limit itself, so on the lagging peer it is one ledger beyond the limit. That peer must
// hold it, or the user's next input, relayed once the peer caught up, is ordered before it and
// the earlier one is rejected as nonce_expired.
func TestRelayedInputFromANodeAheadIsKept(t *testing.T) {
	tn := newTestNet(t, 1, 0)
	p := newPool()
	cfg := Config{VerifyInput: VerifyUserSig, MaxInputLedgerOffset: 10}
	const tip = 20 // the lagging peer; the submitting node's tip is 21
	early := []Input{tn.input(1, 101, 31, "a"), tn.input(1, 102, 31, "b"), tn.input(1, 103, 31, "c")}
	for _, in := range early {
		if r, ok := p.admit(&cfg, &in, false, tip); !ok {
			t.Fatalf("relayed input with max ledger tip+11: %q", r)
		}
	}
	// The peer closes ledger 21 and then receives the user's next input.
	if sts := p.commit(tip+1, Hash{21}, nil); len(sts) != 0 {
		t.Fatalf("statuses at ledger 21: %+v", sts)
	}
	late := tn.input(1, 104, 31, "d")
	if r, ok := p.admit(&cfg, &late, false, tip+1); !ok {
		t.Fatalf("relayed input after the close: %q", r)
	}
	got, _ := p.pick(&cfg, p.all(), tip+2)
	want := []OrderedHash{early[0].Ordered(), early[1].Ordered(), early[2].Ordered(), late.Ordered()}
	if len(got) != len(want) {
		t.Fatalf("pick = %d inputs, want all %d in nonce order", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pick[%d] is not the input with nonce %d", i, 101+i)
		}
	}

	// The limit still binds: a local submission one ledger too far, and a relayed one further
	// than any honest node's tip plus the offset, are refused.
	for _, c := range []struct {
		in    Input
		local bool
	}{{tn.input(2, 1, tip+11, "local, one too far"), true}, {tn.input(2, 2, tip+21, "relayed, beyond twice the offset"), false}} {
		if r, ok := p.admit(&cfg, &c.in, c.local, tip); ok || r != ReasonMaxLedgerOffsetExceeds {
			t.Errorf("%s: %q, %v; want max_ledger_offset_exceeded", c.in.Container, r, ok)
		}
	}
}
