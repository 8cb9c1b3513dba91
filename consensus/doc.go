// Package consensus is the UNL round consensus as a pure state machine in the style of etcd raft:
// messages (Step) and clock ticks (Tick) in, a Ready batch of effects out (messages to broadcast,
// ledgers and hard state to persist, a contract execution to start, a state sync target, vote-status
// changes, input statuses, UNL changes), acknowledged with Advance.
//
// It relies on an injected Signer (Ed25519 from the standard library in production), an injected
// randomness source (node nonces only) and the caller's reports of execution and sync results. It
// never does I/O: no goroutines, no sockets, no wall clock, no unseeded randomness. The p2p layer
// carries its messages as opaque bytes (Message.MarshalBinary) and uses ProposalSigner to drop
// proposals of non-UNL signers at its boundary.
//
// # What is agreed
//
// Ledger seq closes one Value: the ledger time, the ordered input hashes (HotPocket's 40-byte
// nonce ‖ blake3(sig)), the users, the node nonces that give the group nonce, and the Result of
// executing ledger seq-1 (state hash, patch.cfg hash, output root, and the UNL configuration
// patch.cfg holds). Execution of ledger seq therefore overlaps the voting of seq+1: stage 0 of seq+1
// runs while the contract runs, and a node enters stage 1 once its own result is in. A Record is the
// value plus the quorum certificate that closed it; LedgerHash is its canonical hash.
//
// # Rounds
//
// A round for sequence seq (attempt r = 0, 1, ...) starts as soon as inputs are pending that
// arrived since the last two ledgers closed, or the previous ledger had inputs (its outputs need
// the next ledger), or RoundTime has passed since the last ledger (the idle heartbeat); a node also
// joins a round another member started. So a busy cluster closes ledgers back to back at network
// speed and an idle one closes one empty ledger per RoundTime, never a stream of empty ones. Each
// stage advances as soon as a quorum q = ceil(threshold·n/100) of UNL proposals for it arrived;
// StageTimeout (growing with r) is only the fallback that starts round r+1. A member in stage 1
// whose missing stage-1 proposals are those of members still executing the tip (their stage-0
// proposal of the round carries no result for it) keeps the round open instead, for at most
// maxExecWait stage timeouts after the last close: a new round would not make their contracts
// faster, and a ledger of a few thousand inputs executes for seconds. Stages, with HotPocket's
// names:
//
//   - Stage 0 (propose): every member signs its own candidate inputs (admitted, not expired, nonces
//     increasing per user), its connected users, its clock and a fresh node nonce.
//   - Stage 1 (merge): after q stage-0 proposals, every member proposes its stage-1 value: every
//     input with q stage-0 votes that it holds and admits, every user with at least one vote, the
//     lower median time, the union of nonces, and its own execution result of the previous
//     ledger. (HotPocket takes inputs with one vote; see Inputs below for why not here.) A member whose result
//     differs from the plurality of stage-1 results reports desync, emits a SyncTarget and stops
//     voting until the caller reports MsgSyncDone.
//   - Stage 2 (prevote): after q stage-1 proposals, a member votes for one stage-1 value carrying its
//     own result: the value of the round's leader (UNL[(seq+r) mod n]) if it arrived (it waits up
//     to StageTimeout/2 for it), else the most voted, ties to the earliest in leader order. If it is
//     locked (below) it votes for its lock instead.
//   - Stage 3 (precommit): a member that sees q stage-2 votes for one value V in round r (a polka)
//     locks on V at round r; if r is its current round and it has not precommitted in r, it signs V.
//   - Close: q stage-3 votes for one V in one round close the ledger, whatever the node's own round.
//     The record carries those votes; anyone can check it with VerifyRecord.
//
// The group nonce is blake3 over the agreed Nonces of the closed value, so every node that closes
// the ledger computes the same one (HotPocket's depends on which proposals each node saw).
//
// Every signature is over SignedBytes: a domain tag, the contract id, stage, seq, round, previous
// ledger hash, signer and value hash, so a proposal signature cannot be replayed as another kind of
// signature, for another contract, ledger, round or stage. Output signatures (HotPocket's unl_sig)
// are over the raw 32-byte output root because hotpocket-js-client verifies exactly that; no tagged
// message has 32 bytes, so the two can never be confused.
//
// # Safety: two honest nodes never close different ledgers at one sequence
//
// Let n be the UNL size, q the quorum, and f the number of faulty members (Byzantine, or restarted
// without their hard state). Validation requires threshold > 50, so 2q > n. Claim: if 2q - n > f,
// no two different values are closed at one sequence.
//
//  1. Within one round r, two polkas for different values need 2q stage-2 votes, so at least
//     2q - n members voted twice; honest members vote once per (seq, round) (their round only
//     grows, and HardState is persisted before any vote is sent), so 2q - n <= f. Contradiction.
//     The same count shows two stage-3 quorums in one round cannot differ, and honest members
//     precommit only a polka value.
//  2. Suppose V closes in round r: q members precommitted V in r, at least q - f of them honest (set
//     S). Each member of S saw the polka for V in r before precommitting and locked on V at round r,
//     and did so while still in round r, hence before casting any stage-2 vote in a later round.
//  3. Induction over rounds r' > r: if no polka for a value other than V formed in rounds r..r'-1,
//     every member of S is still locked on V at round >= r (a lock moves only to a polka of a later
//     round), so in round r' it votes V or nothing. A polka for W != V in r' needs q votes from
//     members outside S or faulty ones: at most n - (q - f) < q when 2q > n + f. So no polka for W
//     forms in r', and none in any later round.
//  4. Closing W in any round r' needs an honest precommit of W, which needs a polka of W in r'; by
//     1 (r' = r) and 3 (r' > r) it cannot exist; for r' < r swap the roles of V and W.
//
// SafetyTolerance returns 2q - n - 1 (at 80%: 2 of 3, 3 of 4, 4 of 7, 5 of 10). Liveness needs q
// correct members that can talk (LivenessTolerance = n - q: 0 of 3 or 4, 1 of 7, 2 of 10) and, after
// the network heals, stage timeouts long enough for a round: timeouts grow with the round, nodes
// jump to a round that n - q + 1 members have reached, locked members re-send the prevotes that
// justify their lock with every new round (so every correct member adopts the highest lock), and
// leader rotation eventually gives a round a correct leader whose stage-1 value everyone prefers.
// A node that missed a close learns it from any peer's LedgerResponse, checked by VerifyRecord; peers
// answer from the last KeepLedgers ledgers, and the shell feeds older ones from its ledger store as
// MsgLedgerResponse steps, in order. A restarted node keeps its lock (HardState) but not the votes
// that justify it, so until it sees them again it cannot pass its lock on; safety is unaffected.
//
// # What it must never do
//
// Sign two different stage-2 or stage-3 values for one (seq, round); precommit outside its current
// round; vote while its execution result differs from the majority (desync) or while it is not in
// the UNL (observers follow, execute and serve, but never vote); accept a proposal of a non-UNL
// signer; act on a ledger it cannot verify.
//
// # Epochs
//
// The UNL and threshold that govern ledger seq+1 are those in ledger seq's Result.Config: the
// configuration patch.cfg held after executing ledger seq-1, agreed like every other field. A
// change made by the contract during execution k is thus recorded in ledger k+1 and governs ledger
// k+2 onwards, identically on every node; Ready.ConfigChanged reports it (the unl_change event).
//
// # Inputs
//
// Admission follows HotPocket with its reasons (bad_sig, max_ledger_expired,
// max_ledger_offset_exceeded, nonce_expired, already_submitted, round_inputs_overflow). The nonce
// map expires entries by ledger sequence, so it stays bounded. A relayed input may reach twice
// max_input_ledger_offset past the receiver's tip (maxLedgerLimit): a peer a ledger behind the
// submitting node must not refuse it, or the user's next input overtakes it. A node broadcasts its users' inputs
// when they arrive, again when two ledgers closed without them, and when a round is retried unless
// every peer's stage-0 proposal of the failed round held them; statuses
// are reported for the inputs local users submitted. A ledger holds at most MaxInputs inputs and
// MaxLedgerInputBytes of them, so it always fits in one LedgerResponse.
//
// Inputs that keep arriving: a client streaming thousands of inputs per second into one node
// means that node's stage-0 proposal always holds inputs its peers have not received yet. With
// HotPocket's one-vote merge, a round led by that node orders them, the ledger closes with inputs
// most members lack, and each of them must fetch the whole ledger (LedgerRequest) before it can
// even propose the next one; under load the laggards time the next round out. Stage 1 therefore
// merges only inputs with q stage-0 votes: at least q - f honest members hold each ordered input,
// every honest member that proposed it holds it, and in the common case (every member proposed
// in stage 0) every member does, so a closed ledger rarely needs a fetch. The rest wait one
// ledger for the relay to land; the input set of a round is fixed by its stage-0 proposals, so a
// round does not grow while it runs. An input too few members hold (a lost relay, a peer whose
// admission refused it) is relayed again after two missed ledgers and stops triggering rounds
// (it waits for the heartbeat), so it can neither be left out for good nor cause a stream of
// empty ledgers. The rule only shapes stage-1 candidates; prevotes, locks and closes are
// unchanged, so the safety argument above holds as it is.
//
// Per-input cost on the node's loop: admission checks an input's user signature once. A copy of
// a held input (relays repeat) is answered from the pool without a second check, and with
// Config.SubmitVerified a local submission (userapi checked it) is not checked again; everything
// else that admission, pick and the proposals do per input is hashing, lookups and sorting:
// a few microseconds (BenchmarkStepSubmit).
package consensus
