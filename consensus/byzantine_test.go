package consensus

import (
	"errors"
	"testing"
	"time"
)

// firstProposal returns a stage-0 proposal node i sends after an input starts a round.
func firstProposal(t *testing.T, tn *testNet, i int) *Proposal {
	t.Helper()
	in := tn.input(1, 1, 10, "x")
	if err := tn.nodes[i].Step(Message{Type: MsgSubmit, Inputs: []Input{in}}); err != nil {
		t.Fatal(err)
	}
	rd, _ := tn.nodes[i].Ready()
	tn.nodes[i].Advance(rd)
	for _, m := range rd.Messages {
		if m.Type == MsgProposal {
			return m.Proposal
		}
	}
	t.Fatal("no proposal sent")
	return nil
}

func TestStepRejectsBadSignature(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	p := *firstProposal(t, tn, 0)
	p.Sig[3] ^= 0x40
	err := tn.nodes[1].Step(Message{Type: MsgProposal, Proposal: &p})
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Step with a corrupted signature: %v, want ErrBadSignature", err)
	}
	b, _ := (&Message{Type: MsgProposal, Proposal: &p}).MarshalBinary()
	if _, err := ProposalSigner(b); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("ProposalSigner on a corrupted signature: %v", err)
	}
	// A relay cannot swap in another output signature either.
	q := *firstProposal(t, newTestNet(t, 3, 0), 0)
	q.OutputSig = make([]byte, 64)
	q.Value.Result.OutputHash[0] = 1
	if err := q.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify with altered value: %v", err)
	}
}

func TestProposalSignerNeedsNoUNL(t *testing.T) {
	tn := newTestNet(t, 4, 3) // node 3 is not in the UNL
	for _, i := range []int{0, 3} {
		p := firstProposalSigned(t, tn, i)
		b, _ := (&Message{Type: MsgProposal, Proposal: p}).MarshalBinary()
		k, err := ProposalSigner(b)
		if err != nil || string(k) != string(tn.signers[i].PublicKey().Ed25519()) {
			t.Fatalf("ProposalSigner(node %d) = %x, %v", i, k, err)
		}
	}
	b, _ := (&Message{Type: MsgLedgerRequest, Seq: 3}).MarshalBinary()
	if _, err := ProposalSigner(b); !errors.Is(err, ErrNotSigned) {
		t.Fatalf("ProposalSigner(ledger request) = %v, want ErrNotSigned", err)
	}
	if _, err := ProposalSigner([]byte{1, 2, 3}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ProposalSigner(garbage) = %v, want ErrMalformed", err)
	}
}

// firstProposalSigned builds a valid stage-0 proposal signed by node i, UNL member or not.
func firstProposalSigned(t *testing.T, tn *testNet, i int) *Proposal {
	t.Helper()
	g := tn.nodes[0].Tip()
	p := &Proposal{ContractID: testCID, Seq: 1, Prev: g.Hash(), Value: Value{Time: g.Value.Time + 1, Nonces: []Hash{{1}}}}
	p.Sign(tn.signers[i])
	return p
}

func TestStepRejectsNonUNLSigner(t *testing.T) {
	tn := newTestNet(t, 4, 3)
	p := firstProposalSigned(t, tn, 3)
	if err := tn.nodes[0].Step(Message{Type: MsgProposal, Proposal: p}); !errors.Is(err, ErrNotUNL) {
		t.Fatalf("Step(non-UNL proposal) = %v, want ErrNotUNL", err)
	}
	if _, ok := tn.nodes[0].props[key(0, 0)][tn.signers[3].PublicKey()]; ok {
		t.Fatal("non-UNL proposal was stored")
	}
}

func TestStepRejectsOtherContract(t *testing.T) {
	tn := newTestNet(t, 3, 0)
	g := tn.nodes[0].Tip()
	p := &Proposal{ContractID: "another", Seq: 1, Prev: g.Hash(), Value: Value{Time: g.Value.Time + 1, Nonces: []Hash{{1}}}}
	p.Sign(tn.signers[1])
	if err := tn.nodes[0].Step(Message{Type: MsgProposal, Proposal: p}); !errors.Is(err, ErrWrongContract) {
		t.Fatalf("Step(other contract) = %v", err)
	}
	// The contract id is inside the signature: relabeling the proposal breaks it.
	p.ContractID = testCID
	if err := tn.nodes[0].Step(Message{Type: MsgProposal, Proposal: p}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Step(relabelled proposal) = %v, want ErrBadSignature", err)
	}
}

func TestReplayedProposalsCannotForkOrStall(t *testing.T) {
	tn := newTestNet(t, 4, 0)
	var recorded []*Message
	tn.filter = func(from, to int, m *Message) *Message {
		if m.Type == MsgProposal && m.Proposal.Seq <= 2 {
			recorded = append(recorded, m)
		}
		return m
	}
	tn.runUntil(3, 5*time.Second)
	tn.filter = nil
	// Replay every old proposal to every node, twice, as a Byzantine relay would.
	for r := 0; r < 2; r++ {
		for _, m := range recorded {
			for i := range tn.nodes {
				if err := tn.nodes[i].Step(*m); err != nil {
					t.Fatalf("replayed proposal refused with %v; it should be ignored", err)
				}
			}
		}
		tn.drain()
	}
	tn.runUntil(5, 5*time.Second)
	tn.checkAgreement()
}

// equivocate rewrites every proposal of node byz for odd-numbered recipients into a conflicting,
// validly signed one.
func equivocate(tn *testNet, byz int) func(from, to int, m *Message) *Message {
	return func(from, to int, m *Message) *Message {
		if from != byz || m.Type != MsgProposal || to%2 == 0 {
			return m
		}
		p := *m.Proposal
		p.Value = p.Value.Clone()
		p.Value.Time += 7
		p.Sign(tn.signers[byz])
		return &Message{Type: MsgProposal, Proposal: &p}
	}
}

func TestEquivocatorCannotForkOrStall(t *testing.T) {
	// 5 nodes at 80%: quorum 4, so one faulty member is within both tolerances.
	tn := newTestNet(t, 5, 0)
	tn.filter = equivocate(tn, 4)
	for i := 0; i < 4; i++ {
		in := tn.input(i, 1, 50, "eq")
		_ = tn.nodes[i%4].Step(Message{Type: MsgSubmit, Inputs: []Input{in}})
	}
	tn.runUntil(6, 10*time.Second)
	tn.checkAgreement()
}

func TestBadSignerIsSilencedNotFollowed(t *testing.T) {
	tn := newTestNet(t, 5, 0)
	tn.filter = func(from, to int, m *Message) *Message {
		if from != 4 || m.Type != MsgProposal {
			return m
		}
		p := *m.Proposal
		p.Sig[0] ^= 1
		return &Message{Type: MsgProposal, Proposal: &p}
	}
	tn.runUntil(4, 10*time.Second)
	tn.checkAgreement()
}

func TestSignatureDomains(t *testing.T) {
	// A proposal signature covers a tagged message that is never 32 bytes, so it can never be
	// taken for an output signature (over a raw 32-byte root) or vice versa.
	b := SignedBytes("c", 3, 1, 0, Hash{}, PubKey{}, Hash{})
	if len(b) == 32 || string(b[:len(TagProposal)]) != TagProposal {
		t.Fatalf("SignedBytes = %x", b)
	}
	s := testKeys(1)[0]
	root := Hash{9}
	outSig := s.Sign(root[:])
	p := &Proposal{ContractID: "c", Value: Value{}}
	p.Signer = s.PublicKey()
	copy(p.Sig[:], outSig)
	if p.Verify() == nil {
		t.Fatal("an output signature verified as a proposal signature")
	}
}

func TestFarFutureRoundsAreNotStored(t *testing.T) {
	// 7 nodes at 80%: moving a node to a later round takes n-q+1 = 2 members.
	tn := newTestNet(t, 7, 0)
	g := tn.nodes[0].Tip()
	for r := uint32(100); r < 200; r++ {
		p := &Proposal{ContractID: testCID, Seq: 1, Round: r, Prev: g.Hash(), Value: Value{Time: g.Value.Time + 1, Nonces: []Hash{{1}}}}
		p.Sign(tn.signers[3])
		if err := tn.nodes[0].Step(Message{Type: MsgProposal, Proposal: p}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tn.nodes[0].props); n > 1 {
		t.Fatalf("stored proposals for %d (round, stage) pairs from one member's far-future spam", n)
	}
	if _, r := tn.nodes[0].Round(); r != 0 {
		t.Fatalf("one member moved the node to round %d", r)
	}
}

// FuzzStep feeds arbitrary wire messages to a node mid-round: whatever it is sent, it must answer
// with an error or an effect, never a panic, and never close a ledger without a certificate.
func FuzzStep(f *testing.F) {
	for _, m := range sampleMessages(f) {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	tn := newTestNet(f, 3, 0)
	p := firstProposalSigned(&testing.T{}, tn, 1)
	b, _ := (&Message{Type: MsgProposal, Proposal: p}).MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if m.UnmarshalBinary(b) != nil {
			return
		}
		tn := newTestNet(t, 3, 0)
		g := tn.nodes[0].Tip()
		_ = tn.nodes[0].Step(m)
		_ = tn.nodes[0].Step(m)
		tn.nodes[0].Tick(tn.now.Add(time.Second))
		if tip := tn.nodes[0].Tip(); tip.Seq != 0 {
			if err := VerifyRecord(testCID, &g, &tip); err != nil {
				t.Fatalf("closed ledger %d without a valid certificate: %v", tip.Seq, err)
			}
		}
	})
}
