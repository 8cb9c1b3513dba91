package userapi

import "errors"

// Rejection reasons sent in contract_input_status, HotPocket's strings (reference §3.3–3.4) plus
// ReasonSubmitFailed for a Backend failure that is not a rejection.
const (
	ReasonBadMsgFormat            = "bad_msg_format"
	ReasonInvalidMsgType          = "invalid_msg_type"
	ReasonBadSig                  = "bad_sig"
	ReasonMaxLedgerExpired        = "max_ledger_expired"
	ReasonMaxLedgerOffsetExceeded = "max_ledger_offset_exceeded"
	ReasonNonceExpired            = "nonce_expired"
	ReasonAlreadySubmitted        = "already_submitted"
	ReasonRoundInputsOverflow     = "round_inputs_overflow"
	ReasonSubmitFailed            = "submit_failed"
)

// RejectError is a Backend's rejection of an input, with the reason the user is told.
type RejectError struct{ Reason string }

// Error names the reason.
func (e *RejectError) Error() string { return "input rejected: " + e.Reason }

// Reject returns a *RejectError for reason.
func Reject(reason string) error { return &RejectError{Reason: reason} }

// RejectReason returns the reason of a *RejectError in err's chain, or "" if there is none.
func RejectReason(err error) string {
	var r *RejectError
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// CheckLedgerWindow applies HotPocket's immediate expiry checks to an input that may be in ledgers
// up to maxLedgerSeq, when the last closed ledger is lcl and maxOffset (0 = no limit) is
// contract.max_input_ledger_offset: an input whose window has passed is max_ledger_expired, one
// that reaches further than lcl+maxOffset is max_ledger_offset_exceeded.
func CheckLedgerWindow(lcl, maxLedgerSeq, maxOffset uint64) error {
	if maxLedgerSeq <= lcl {
		return &RejectError{Reason: ReasonMaxLedgerExpired}
	}
	if maxOffset > 0 && maxLedgerSeq-lcl > maxOffset {
		return &RejectError{Reason: ReasonMaxLedgerOffsetExceeded}
	}
	return nil
}
