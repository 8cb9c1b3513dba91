package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/userapi"
)

// Relayed inputs arrive in batches of up to a thousand, and each needs an Ed25519 verification
// (~50 µs). Done by consensus on its single loop, they would cost that loop 50 ms per full batch,
// during which nothing else is handled. inputVerifier checks them first, on every core, keeping
// peer messages in the order they arrived, and remembers which inputs passed; consensus's VerifyInput then finds
// each in the memory instead of verifying it again. An input that fails is passed on unremembered,
// so consensus checks it itself and rejects it exactly as before.

// maxVerified bounds the remembered inputs. Consensus consults the memory once per input, shortly
// after the batch is handed over (and forgets it then), so it only needs to cover the batches in
// flight; an input evicted before use is simply verified again by consensus.
const maxVerified = 1 << 16

// verifyQueue bounds the peer messages waiting for verification (every peer message passes, in
// order, so that none overtakes the input batches before it): like the consensus queue, when it
// is full further messages are dropped.
const verifyQueue = stepQueue

// verifiedKey identifies an input together with exactly what its signature covers.
type verifiedKey [sha256.Size]byte

func keyOf(in *consensus.Input) verifiedKey {
	h := sha256.New()
	h.Write(in.User[:])
	h.Write(in.Sig[:])
	h.Write([]byte{in.Protocol})
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(in.Nonce>>(56-8*i)), byte(in.MaxLedgerSeq>>(56-8*i))
	}
	h.Write(b[:])
	h.Write(in.Container)
	var k verifiedKey
	h.Sum(k[:0])
	return k
}

// errInputFields reports a relayed input whose nonce or ledger limit is not the one its signed
// container holds (a relaying peer changed them).
var errInputFields = errors.New("input fields do not match its container")

// checkInput is the full check of a relayed input: the user's signature over the container, and
// the container's nonce and max ledger seq equal to the ones consensus orders it by.
func checkInput(in *consensus.Input) error {
	if err := consensus.VerifyUserSig(in); err != nil {
		return err
	}
	_, nonce, maxSeq, err := userapi.ParseInputContainer(protocolOf(in.Protocol), in.Container)
	if err != nil {
		return fmt.Errorf("%w: %v", errInputFields, err)
	}
	if nonce != in.Nonce || maxSeq != in.MaxLedgerSeq {
		return fmt.Errorf("%w: nonce %d/%d, max ledger %d/%d", errInputFields, in.Nonce, nonce, in.MaxLedgerSeq, maxSeq)
	}
	return nil
}

// inputVerifier is the pre-verification stage and its memory. verified is safe for concurrent
// use; run is its one goroutine.
type inputVerifier struct {
	in      chan consensus.Message
	workers int

	mu   sync.Mutex
	ok   map[verifiedKey]struct{}
	ring []verifiedKey // insertion order, for eviction
	next int
}

func newInputVerifier() *inputVerifier {
	return &inputVerifier{
		in:      make(chan consensus.Message, verifyQueue),
		workers: runtime.GOMAXPROCS(0),
		ok:      map[verifiedKey]struct{}{},
		ring:    make([]verifiedKey, maxVerified),
	}
}

// submit queues a peer message; false when the queue is full.
func (v *inputVerifier) submit(m consensus.Message) bool {
	select {
	case v.in <- m:
		return true
	default:
		return false
	}
}

// run hands queued messages to out in arrival order, the inputs of each batch verified first,
// until ctx ends.
func (v *inputVerifier) run(ctx context.Context, out chan<- consensus.Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-v.in:
			if m.Type == consensus.MsgInputBatch {
				v.verifyAll(m.Inputs)
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		}
	}
}

// verifyAll checks ins on up to workers goroutines and remembers those that pass.
func (v *inputVerifier) verifyAll(ins []consensus.Input) {
	w := min(v.workers, len(ins))
	if w <= 1 {
		for i := range ins {
			v.verifyOne(&ins[i])
		}
		return
	}
	var wg sync.WaitGroup
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(ins); i += w {
				v.verifyOne(&ins[i])
			}
		}()
	}
	wg.Wait()
}

func (v *inputVerifier) verifyOne(in *consensus.Input) {
	if checkInput(in) != nil {
		return
	}
	k := keyOf(in)
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.ok[k]; ok {
		return
	}
	delete(v.ok, v.ring[v.next]) // the oldest entry, or an already used one: a no-op then
	v.ring[v.next] = k
	v.next = (v.next + 1) % len(v.ring)
	v.ok[k] = struct{}{}
}

// verify is consensus's VerifyInput: an input this stage passed is accepted (and forgotten: each
// is consulted once), any other is checked in full.
func (v *inputVerifier) verify(in *consensus.Input) error {
	k := keyOf(in)
	v.mu.Lock()
	_, ok := v.ok[k]
	delete(v.ok, k)
	v.mu.Unlock()
	if ok {
		return nil
	}
	return checkInput(in)
}
