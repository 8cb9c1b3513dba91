package node

import (
	"encoding/hex"
	"sync"

	"github.com/hpfs/hpnode/contractexec"
)

// nplLedger names the closed ledger an NPL message belongs to: the one the sender executed on.
type nplLedger struct {
	Seq  uint64
	Hash [32]byte
}

// nplInboxCap bounds the messages buffered per ledger (contractexec's default inbox size).
const nplInboxCap = contractexec.DefaultNPLInboxSize

// nplWindow is how far ahead of the last executed ledger messages are buffered: a faster peer
// may run ledger N+1 while this node still runs N. Messages for older or farther ledgers are
// dropped, so a peer cannot make the node buffer without bound.
const nplWindow = 4

// nplRouter holds one inbox per ledger so that NPL messages arriving before the local contract
// starts are delivered to it, not dropped (HotPocket drops them).
type nplRouter struct {
	mu      sync.Mutex
	inboxes map[nplLedger]*contractexec.NPLInbox
	lastSeq uint64 // highest ledger executed (done)
}

func newNPLRouter() *nplRouter {
	return &nplRouter{inboxes: map[nplLedger]*contractexec.NPLInbox{}}
}

// deliver queues a verified message from a UNL member for ledger l. It reports whether the
// message was kept.
func (r *nplRouter) deliver(l nplLedger, from [32]byte, data []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l.Seq <= r.lastSeq || l.Seq > r.lastSeq+nplWindow {
		return false
	}
	in := r.inboxLocked(l)
	return in.Push(contractexec.NPLMessage{From: "ed" + hex.EncodeToString(from[:]), Data: data})
}

// inbox returns the inbox of ledger l, creating it if no message has arrived yet.
func (r *nplRouter) inbox(l nplLedger) *contractexec.NPLInbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inboxLocked(l)
}

func (r *nplRouter) inboxLocked(l nplLedger) *contractexec.NPLInbox {
	in, ok := r.inboxes[l]
	if !ok {
		in = contractexec.NewNPLInbox(nplInboxCap)
		r.inboxes[l] = in
	}
	return in
}

// done forgets ledger l and every older one once l has been executed.
func (r *nplRouter) done(l nplLedger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastSeq = max(r.lastSeq, l.Seq)
	for k, in := range r.inboxes {
		if k.Seq <= r.lastSeq {
			in.Close()
			delete(r.inboxes, k)
		}
	}
}
