package contractexec

import (
	"sync"
)

// MaxPacket is the SEQPACKET size limit of the control and NPL channels: the contract library reads
// 128 KiB at a time, so a longer packet would reach it truncated.
const MaxPacket = 128 * 1024

// NPLMessage is one incoming NPL message.
type NPLMessage struct {
	// From is the sender's public key hex with the "ed" prefix, as the contract sees it.
	From string
	// Data is the payload.
	Data []byte
}

// NPLInbox buffers the NPL messages of one round. The node creates it when the round's lcl is known
// and pushes every verified message for that lcl into it, whether or not the contract has started:
// HotPocket drops messages that arrive before its contract starts, which loses the messages of
// faster peers; the inbox keeps them (up to its capacity) and Run delivers them in arrival order.
//
// An NPLInbox is safe for concurrent use. It is consumed by at most one Run.
//
// A nodejs contract that reads NPL (ctx.unl.onMessage) must be started with the library's
// forceTerminate, as on HotPocket: the library's NPL read stream leaves a blocking read pending in
// libuv's thread pool, which keeps node alive after the contract function returns, until the
// exec timeout. With forceTerminate the process ends by SIGINT, which Result.Completed accepts.
type NPLInbox struct {
	mu      sync.Mutex
	queue   []NPLMessage
	max     int
	dropped int
	closed  bool
	notify  chan struct{} // capacity 1: a pending wake-up for the consumer
}

// DefaultNPLInboxSize is the capacity NewNPLInbox uses for a non-positive size: HotPocket's NPL
// queue length.
const DefaultNPLInboxSize = 1023

// NewNPLInbox returns an empty inbox holding up to max undelivered messages.
func NewNPLInbox(max int) *NPLInbox {
	if max <= 0 {
		max = DefaultNPLInboxSize
	}
	return &NPLInbox{max: max, notify: make(chan struct{}, 1)}
}

// Push queues m for the contract. It returns false, and counts the message as dropped, when the
// inbox is full or closed or the message is longer than MaxPacket.
func (in *NPLInbox) Push(m NPLMessage) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || len(in.queue) >= in.max || len(m.Data) > MaxPacket || len(m.From) > MaxPacket {
		in.dropped++
		return false
	}
	in.queue = append(in.queue, m)
	select {
	case in.notify <- struct{}{}:
	default:
	}
	return true
}

// Close stops accepting messages; messages already queued are still delivered.
func (in *NPLInbox) Close() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
}

// Dropped returns how many messages Push refused.
func (in *NPLInbox) Dropped() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.dropped
}

// take removes and returns every queued message.
func (in *NPLInbox) take() []NPLMessage {
	in.mu.Lock()
	defer in.mu.Unlock()
	q := in.queue
	in.queue = nil
	return q
}

// pending returns how many messages are queued.
func (in *NPLInbox) pending() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.queue)
}
