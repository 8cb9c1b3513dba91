package userapi

import (
	"context"
	"crypto/ed25519"

	"github.com/hpfs/hpnode/outtree"
)

// Backend is what the node provides to the user server. Every method may be called from many
// sessions at once and must be safe for concurrent use. Methods that take a context must return
// promptly once it is done.
type Backend interface {
	// SubmitInput hands over an input whose signature the server has verified. It returns nil if
	// the input was queued for consensus (its final status comes later as an InputStatus event),
	// or a *RejectError with one of HotPocket's reasons (nonce_expired, max_ledger_expired, ...)
	// if an immediate check fails. Any other error is reported to the user as ReasonSubmitFailed.
	SubmitInput(ctx context.Context, in Input) error

	// Read runs a read-only contract execution for user with content as its only input and
	// returns the contract's outputs to that user, each sent as one contract_read_response.
	Read(ctx context.Context, user ed25519.PublicKey, content []byte) ([][]byte, error)

	// Stat is the node's status for stat_response.
	Stat(ctx context.Context) (Stat, error)

	// LCL is the last closed ledger.
	LCL(ctx context.Context) (LedgerID, error)

	// UNL is the current UNL, sent in server_challenge_response (the server sorts it).
	UNL(ctx context.Context) ([]ed25519.PublicKey, error)

	// LedgerBySeq returns the ledger at seq (0 is genesis) with its inputs and/or outputs when
	// asked, or nil if there is none. The Backend decides which raw inputs and outputs user may
	// see (HotPocket's private mode returns only the caller's own).
	LedgerBySeq(ctx context.Context, user ed25519.PublicKey, seq uint64, inputs, outputs bool) (*Ledger, error)

	// Subscribe registers fn to receive every event until the returned cancel func is called.
	// The Backend calls fn from its own goroutines, one event at a time, in the order the events
	// happened; fn never blocks (the server queues per session). After cancel returns, fn is
	// never called again.
	Subscribe(fn func(Event)) (cancel func())
}

// Protocol is a session's message encoding after the handshake.
type Protocol uint8

const (
	// JSON is HotPocket's "json" protocol: text JSON documents in binary frames.
	JSON Protocol = iota + 1
	// BSON is HotPocket's "bson" protocol: one BSON document per frame.
	BSON
)

// String is the protocol's name in user_challenge_response.
func (p Protocol) String() string {
	switch p {
	case JSON:
		return "json"
	case BSON:
		return "bson"
	}
	return "unknown"
}

// Input is a user input whose signature over Container has been verified.
type Input struct {
	User         ed25519.PublicKey
	Protocol     Protocol // how Container is encoded
	Container    []byte   // the exact signed input_container bytes
	Sig          []byte   // Ed25519 signature over Container
	Hash         Hash     // BLAKE3(Sig): the input hash the client matches statuses with
	Data         []byte   // the input itself
	Nonce        uint64   // > 0
	MaxLedgerSeq uint64   // the last ledger the input may be in
}

// LedgerID names a ledger.
type LedgerID struct {
	Seq  uint64
	Hash Hash
}

// Stat is the content of stat_response (reference §3.4).
type Stat struct {
	HPVersion                string // empty means the server's Config.HPVersion
	LCL                      LedgerID
	VoteStatus               string // e.g. "synced", "desync", "unreliable"
	RoundTime                uint32 // ms
	ContractExecutionEnabled bool
	ReadRequestsEnabled      bool
	IsFullHistoryNode        bool
	WeaklyConnected          bool
	CurrentUNL               []ed25519.PublicKey
	Peers                    []string // "host:port", at most 100 are sent
}

// Ledger is a closed ledger as users see it (ledger_event and ledger_query_result).
type Ledger struct {
	Seq        uint64
	Timestamp  uint64 // ms since the Unix epoch: the consensed round time
	Hash       Hash
	PrevHash   Hash
	StateHash  Hash
	ConfigHash Hash // patch.cfg hash
	UserHash   Hash
	InputHash  Hash
	OutputHash Hash
	Inputs     []LedgerInput  // filled by LedgerBySeq when inputs are asked for
	Outputs    []LedgerOutput // filled by LedgerBySeq when outputs are asked for
	// HasInputs/HasOutputs say whether the inputs/outputs keys are sent. The server sets them
	// from the query (an asked-for empty list is sent as []); a Backend need not.
	HasInputs, HasOutputs bool
}

// LedgerInput is one input recorded in a ledger.
type LedgerInput struct {
	User  ed25519.PublicKey
	Hash  Hash
	Nonce uint64
	Blob  []byte
}

// LedgerOutput is one user's outputs recorded in a ledger.
type LedgerOutput struct {
	User  ed25519.PublicKey
	Hash  Hash
	Blobs [][]byte
}

// Event is something the Backend reports to users: one of *LedgerCreated, *VoteStatusChanged,
// *UNLChanged, *InputStatus, *RoundOutputs.
type Event interface{ isEvent() }

// LedgerCreated is sent to users subscribed to ledger_event.
type LedgerCreated struct{ Ledger Ledger }

// VoteStatusChanged is sent to users subscribed to ledger_event.
type VoteStatusChanged struct{ VoteStatus string }

// UNLChanged is sent to users subscribed to unl_change: the UNL after a patch.cfg change.
type UNLChanged struct{ UNL []ed25519.PublicKey }

// InputStatus is the final status of an input queued by SubmitInput, sent to its user if
// connected. Reason is set when !Accepted; Ledger when Accepted.
type InputStatus struct {
	User      ed25519.PublicKey
	InputHash Hash
	Accepted  bool
	Reason    string
	Ledger    LedgerID
}

// RoundOutputs is one closed round's outputs: for each user in Users with at least one output,
// the server sends a contract_output carrying that user's outputs, the user's collapsed view of
// Tree and Sigs. Tree must be outtree.Of the users' outputs and the state hash, and
// Sigs the UNL's signatures over Tree.Root() (SignOutputRoot).
type RoundOutputs struct {
	Ledger LedgerID
	Tree   *outtree.Tree
	Users  []outtree.UserOutputs
	Sigs   []OutputSig
}

func (*LedgerCreated) isEvent()     {}
func (*VoteStatusChanged) isEvent() {}
func (*UNLChanged) isEvent()        {}
func (*InputStatus) isEvent()       {}
func (*RoundOutputs) isEvent()      {}
