package consensus

// Decided is a closed ledger with its raw inputs in ledger order.
type Decided struct {
	Record Record
	Inputs []Input
}

// Execution asks the caller to run the contract for one closed ledger: its inputs in order, its time
// and group nonce (Record.Value), and the previous ledger (Record.Prev). The caller answers with a
// MsgExecResult step whose Result.Seq is Record.Seq. At most one execution is outstanding.
type Execution struct {
	Record Record
	Inputs []Input
}

// SyncTarget asks the caller to bring the contract state and patch.cfg to the majority's result of
// ledger Result.Seq (Result.StateHash, Result.PatchHash), because this node's own result differs. The
// caller answers with MsgSyncDone carrying the result it reached.
type SyncTarget struct {
	Result Result
}

// Ready is a batch of effects for the caller, in the manner of etcd raft's Ready. The caller must,
// in this order: persist HardState and Ledgers; send Messages; start Execute and Sync; deliver
// InputStatuses, Status and ConfigChanged to users; then call Advance.
type Ready struct {
	// HardState, when set, must be persisted before any message of this Ready is sent.
	HardState *HardState
	// Ledgers are newly closed ledgers, in sequence order.
	Ledgers []Decided
	// Messages are to be sent: To zero means broadcast to every peer.
	Messages []Message
	// Execute holds the next ledger to execute, if any.
	Execute []Execution
	// Sync is set when the node's state must be synced to the majority's.
	Sync *SyncTarget
	// StatusChanged reports that Status is new.
	StatusChanged bool
	Status        VoteStatus
	// InputStatuses are outcomes for inputs local users submitted.
	InputStatuses []InputStatus
	// ConfigChanged is set when a closed ledger changed the UNL configuration (an epoch starts at the
	// next sequence).
	ConfigChanged *UNLConfig
}

func (rd *Ready) empty() bool {
	return rd.HardState == nil && len(rd.Ledgers) == 0 && len(rd.Messages) == 0 && len(rd.Execute) == 0 &&
		rd.Sync == nil && !rd.StatusChanged && len(rd.InputStatuses) == 0 && rd.ConfigChanged == nil
}
