package consensus

import "math"

// stageRatio is HotPocket's ratio table for stages 1..3, scaled by the configured threshold.
var stageRatio = [3]float32{0.5, 0.65, 0.8}

// StageQuorum is HotPocket's per-stage vote requirement for including a user or input:
// ceil(st * unl) with st = ratio[stage-1] * threshold / 80, reproducing HotPocket's float32/float64
// mix exactly (reference §1.4), so that for every threshold and UNL size the count equals the C++
// node's. Stage 0 has no requirement.
func StageQuorum(stage uint8, threshold uint8, unl int) int {
	if stage == 0 || stage > 3 {
		return 0
	}
	r := stageRatio[stage-1]
	st := float32(float64(r*float32(threshold)) / (float64(stageRatio[2]) * 100.0))
	return int(math.Ceil(float64(st * float32(unl))))
}

// CloseQuorum is the number of identical stage-3 votes that close a ledger:
// ceil(threshold * unl / 100), HotPocket's ledger-close expression. It is also the quorum q of every
// "enough proposals for this stage" check.
func CloseQuorum(threshold uint8, unl int) int {
	return int(math.Ceil(float64(int(threshold)*unl) / 100.0))
}

// SafetyTolerance is the number of faulty UNL members (Byzantine, or crashed and restarted without
// their hard state) under which two honest nodes can never close different ledgers: 2q - n - 1.
func SafetyTolerance(threshold uint8, unl int) int {
	f := 2*CloseQuorum(threshold, unl) - unl - 1
	if f < 0 {
		return 0
	}
	return f
}

// LivenessTolerance is the number of silent UNL members under which the rest still close ledgers:
// n - q.
func LivenessTolerance(threshold uint8, unl int) int {
	return unl - CloseQuorum(threshold, unl)
}
