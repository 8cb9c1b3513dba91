package node

import (
	"context"
	"time"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
)

// runExecutor executes closed ledgers one at a time, as consensus hands them over, and reports
// each result back to the loop.
func (n *Node) runExecutor(ctx context.Context, q <-chan consensus.Execution) {
	for {
		select {
		case <-ctx.Done():
			return
		case ex := <-q:
			start := time.Now()
			out, err := n.executeWithRetry(ctx, ex)
			n.metrics.executions.Inc()
			n.metrics.execSeconds.Observe(time.Since(start).Seconds())
			if err != nil {
				if ctx.Err() == nil {
					// The state store failed twice: consensus will see this node fall behind
					// (desync) and hand it a sync target.
					n.logger.Error("execution failed", "ledger", ex.Record.Seq, "err", err)
				}
				continue
			}
			n.afterExecution(ex, out)
			res := out.result
			select {
			case n.local <- consensus.Message{Type: consensus.MsgExecResult, Result: &res}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (n *Node) executeWithRetry(ctx context.Context, ex consensus.Execution) (execOutcome, error) {
	out, err := n.exec.execute(ctx, ex)
	if err == nil || ctx.Err() != nil {
		return out, err
	}
	n.logger.Warn("execution failed; retrying once", "ledger", ex.Record.Seq, "err", err)
	select {
	case <-time.After(500 * time.Millisecond):
	case <-ctx.Done():
		return out, ctx.Err()
	}
	return n.exec.execute(ctx, ex)
}

// afterExecution keeps what users and restarts need of one execution.
func (n *Node) afterExecution(ex consensus.Execution, out execOutcome) {
	seq := ex.Record.Seq
	if err := n.db.saveResult(out.result); err != nil {
		n.logger.Error("save execution result", "ledger", seq, "err", err)
	}
	if len(out.outputs) > 0 {
		n.outputs.put(seq, out)
	}
	n.setLatestPatch(out.patch)
	n.view.setResult(out.result)
	n.kickStatus()
	for _, c := range out.control {
		n.logger.Info("contract control message", "type", c.Type, "add", c.Add, "remove", c.Remove)
	}
	if n.hooks.OnExecuted != nil {
		n.hooks.OnExecuted(out.result)
	}
}

func (n *Node) setLatestPatch(p config.PatchConfig) {
	n.patchMu.Lock()
	defer n.patchMu.Unlock()
	n.patch = &p
}

// lastGoodPatch is the latest valid patch config, or hp.cfg's contract section before any.
func (n *Node) lastGoodPatch() config.PatchConfig {
	if p, ok := n.latestPatch(); ok {
		return p
	}
	cfg := n.config()
	return cfg.Contract.Patch()
}

func (n *Node) latestPatch() (config.PatchConfig, bool) {
	n.patchMu.Lock()
	defer n.patchMu.Unlock()
	if n.patch == nil {
		return config.PatchConfig{}, false
	}
	return *n.patch, true
}
