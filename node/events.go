package node

import (
	"sync"

	"github.com/hpfs/hpnode/userapi"
)

// eventHub fans node events out to the user server's subscribers. publish is called only from
// the consensus loop, so every subscriber sees events in the order they happened; subscribers
// never block (userapi queues per session).
type eventHub struct {
	mu   sync.Mutex
	next int
	subs map[int]func(userapi.Event)
}

func newEventHub() *eventHub { return &eventHub{subs: map[int]func(userapi.Event){}} }

func (h *eventHub) subscribe(fn func(userapi.Event)) (cancel func()) {
	h.mu.Lock()
	id := h.next
	h.next++
	h.subs[id] = fn
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
}

// publish delivers e to every subscriber. Holding the lock during delivery is what guarantees
// that no fn runs after its cancel returned.
func (h *eventHub) publish(e userapi.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fn := range h.subs {
		fn(e)
	}
}
