package sim

import (
	"time"

	"github.com/hpfs/hpnode/consensus"
)

// The virtual clock: a priority queue of events ordered by time, then by insertion.

type eventKind uint8

const (
	evTick eventKind = iota
	evDeliver
	evExecDone
	evSyncDone
	evSubmit
	evStream
	evCrash
	evRestart
	evPartition
	evHeal
)

type event struct {
	at    time.Duration
	order uint64
	kind  eventKind
	node  int
	epoch int
	msg   *consensus.Message
	exec  *consensus.Execution
	res   *consensus.Result
	input *consensus.Input
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].order < q[j].order
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
