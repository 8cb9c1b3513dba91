package contractexec

import (
	"strings"
	"testing"
)

func TestNPLInboxBuffersAndBounds(t *testing.T) {
	in := NewNPLInbox(2)
	if !in.Push(NPLMessage{From: "a", Data: []byte("1")}) || !in.Push(NPLMessage{From: "b", Data: []byte("2")}) {
		t.Fatal("push into an empty inbox refused")
	}
	if in.Push(NPLMessage{From: "c", Data: []byte("3")}) {
		t.Fatal("push past capacity accepted")
	}
	if got := in.take(); len(got) != 2 || got[0].From != "a" || got[1].From != "b" {
		t.Fatalf("take %+v", got)
	}
	if in.Push(NPLMessage{From: "d", Data: make([]byte, MaxPacket+1)}) {
		t.Fatal("over-long message accepted")
	}
	in.Close()
	if in.Push(NPLMessage{From: "e"}) {
		t.Fatal("push after Close accepted")
	}
	if in.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", in.Dropped())
	}
}

// TestNPLUndeliveredMessagesAreCounted: messages pushed for a contract that never reads NPL are
// reported, not silently lost.
func TestNPLUndeliveredMessagesAreCounted(t *testing.T) {
	s := baseSpec(t, kindGo, newContractDir(t), "trivial")
	s.NPLIn = NewNPLInbox(0)
	for range 3 {
		s.NPLIn.Push(NPLMessage{From: testKey(0xbb), Data: []byte(strings.Repeat("x", 100))})
	}
	res := run(t, s)
	if !res.Exit.Normal() {
		t.Fatal(res.Summary())
	}
	// Written into the socket buffer before the contract exited, or left in the inbox: either way
	// nothing blocks, and what stayed in the inbox is counted.
	if res.NPLDropped > 3 {
		t.Fatalf("dropped %d of 3", res.NPLDropped)
	}
}
