package consensus

import "fmt"

// The execution pipeline: one execution outstanding at a time, each checked against the result the
// next ledger records, with a state sync whenever they differ.

// pump starts the next execution, or asks for a state sync when the next ledger records a result of
// the previous one that differs from ours.
func (n *Node) pump() {
	for !n.executing && n.syncing == nil && len(n.queue) > 0 {
		next := n.queue[0]
		if next.Record.Seq <= n.done.Seq {
			n.queue = n.queue[1:]
			continue
		}
		if next.Record.Seq != n.done.Seq+1 {
			return // we lack an older result; a sync will provide it
		}
		if !resultEqual(next.Record.Value.Result, n.done) {
			want := next.Record.Value.Result
			n.syncing = &want
			n.rd.Sync = &SyncTarget{Result: want}
			n.setStatus(StatusDesync)
			return
		}
		if n.status == StatusDesync || !n.voter {
			// The ledger records our own result of its predecessor: we are in step again. (Voters
			// also become synced when they vote; observers only ever learn it here.)
			n.setStatus(StatusSynced)
		}
		n.queue = n.queue[1:]
		n.executing = true
		n.rd.Execute = append(n.rd.Execute, Execution{Record: next.Record, Inputs: next.Inputs})
	}
}

func (n *Node) stepExecResult(r *Result) error {
	if r == nil || !n.executing || r.Seq != n.done.Seq+1 {
		return fmt.Errorf("%w: execution result for %v", ErrUnexpected, r)
	}
	if err := ValidateConfig(r.Config); err != nil {
		return fmt.Errorf("execution result of ledger %d: %w", r.Seq, err)
	}
	n.done = *r
	n.done.Config = r.Config.Clone()
	n.executing = false
	n.pump()
	return nil
}

func (n *Node) stepSyncDone(r *Result) error {
	if r == nil || n.syncing == nil || r.Seq != n.syncing.Seq {
		return fmt.Errorf("%w: sync result for %v", ErrUnexpected, r)
	}
	n.done = *r
	n.done.Config = r.Config.Clone()
	n.syncing = nil
	n.executing = false
	n.pump()
	return nil
}

func resultEqual(a, b Result) bool {
	return a.Seq == b.Seq && a.StateHash == b.StateHash && a.PatchHash == b.PatchHash &&
		a.OutputHash == b.OutputHash && a.Config.Equal(b.Config)
}
