package consensus

// VoteStatus is how the node's view relates to the UNL's, as HotPocket reports it to users
// (stat_response.vote_status and the vote_status ledger event).
type VoteStatus uint8

// Vote statuses, with HotPocket's numbering.
const (
	// StatusUnknown: no round has completed since start.
	StatusUnknown VoteStatus = iota
	// StatusUnreliable: a round ended without enough UNL proposals to decide anything.
	StatusUnreliable
	// StatusDesync: the node's ledger or execution result differs from the majority; it is catching
	// up (ledger requests) or syncing state (SyncTarget) and does not vote.
	StatusDesync
	// StatusSynced: the node's ledger and result match the majority and it votes.
	StatusSynced
)

// String returns HotPocket's wire string.
func (s VoteStatus) String() string {
	switch s {
	case StatusUnreliable:
		return "unreliable"
	case StatusDesync:
		return "desync"
	case StatusSynced:
		return "synced"
	default:
		return "unknown"
	}
}

// Reason is a HotPocket input rejection reason, sent to users verbatim.
type Reason string

// HotPocket's rejection reasons (reference §3.4).
const (
	ReasonBadSig                 Reason = "bad_sig"
	ReasonMaxLedgerExpired       Reason = "max_ledger_expired"
	ReasonMaxLedgerOffsetExceeds Reason = "max_ledger_offset_exceeded"
	ReasonNonceExpired           Reason = "nonce_expired"
	ReasonAlreadySubmitted       Reason = "already_submitted"
	ReasonRoundInputsOverflow    Reason = "round_inputs_overflow"
)

// InputStatus reports the fate of an input a local user submitted: accepted into a ledger, or
// rejected with a reason.
type InputStatus struct {
	User PubKey
	// Hash is the user-visible input hash (blake3 of the signature).
	Hash     Hash
	Accepted bool
	// Reason is set when rejected.
	Reason Reason
	// LedgerSeq and LedgerHash are set when accepted.
	LedgerSeq  uint64
	LedgerHash Hash
}
