package userapi

import (
	"bytes"
	"crypto/ed25519"
	"slices"

	"github.com/hpfs/hpnode/outtree"
)

// Builders for every server → client message, in HotPocket's key order (usrmsg_json.cpp and
// usrmsg_bson.cpp; reference §3.2 and §3.4).

func userChallengeMsg(hpVersion, contractID, contractVersion, challenge string) doc {
	return doc{
		{"hp_version", hpVersion},
		{"type", "user_challenge"},
		{"contract_id", contractID},
		{"contract_version", contractVersion},
		{"challenge", challenge},
	}
}

// serverChallengeResponseMsg is always JSON; its keys are hex strings in both protocols.
func serverChallengeResponseMsg(sig []byte, node ed25519.PublicKey, unl []ed25519.PublicKey) doc {
	keys := make(arr, len(unl))
	for i, k := range sortedKeys(unl) {
		keys[i] = HexKey(k)
	}
	return doc{
		{"type", "server_challenge_response"},
		{"sig", bin(sig)},
		{"pubkey", HexKey(node)},
		{"unl", keys},
	}
}

// sortedKeys returns the keys in binary order, as HotPocket sends its UNL.
func sortedKeys(keys []ed25519.PublicKey) []ed25519.PublicKey {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b ed25519.PublicKey) int { return bytes.Compare(a, b) })
	return out
}

func wireKeys(keys []ed25519.PublicKey) arr {
	out := make(arr, len(keys))
	for i, k := range sortedKeys(keys) {
		out[i] = bin(WireKey(k))
	}
	return out
}

func inputStatusMsg(inputHash Hash, accepted bool, reason string, l LedgerID) doc {
	if !accepted {
		return doc{
			{"type", "contract_input_status"},
			{"status", "rejected"},
			{"reason", reason},
			{"input_hash", bin(inputHash[:])},
		}
	}
	return doc{
		{"type", "contract_input_status"},
		{"status", "accepted"},
		{"input_hash", bin(inputHash[:])},
		{"ledger_seq_no", l.Seq},
		{"ledger_hash", bin(l.Hash[:])},
	}
}

// rejectedNoHash is the status for a message that could not be parsed far enough to have an input
// hash: HotPocket sends an empty input_hash.
func rejectedNoHash(reason string) doc {
	return doc{
		{"type", "contract_input_status"},
		{"status", "rejected"},
		{"reason", reason},
		{"input_hash", bin(nil)},
	}
}

func treeValue(t outtree.Elem) any {
	switch {
	case t.IsList:
		out := make(arr, len(t.List))
		for i, e := range t.List {
			out[i] = treeValue(e)
		}
		return out
	case t.Self:
		return nil
	default:
		h := t.Hash
		return bin(h[:])
	}
}

func contractOutputMsg(l LedgerID, outputs [][]byte, outputHash Hash, tree outtree.Elem, sigs []OutputSig, rawJSON bool) doc {
	outs := make(arr, len(outputs))
	for i, o := range outputs {
		outs[i] = blob{b: o, raw: rawJSON}
	}
	ss := make(arr, len(sigs))
	for i, s := range sigs {
		ss[i] = arr{bin(WireKey(s.Signer)), bin(s.Sig)}
	}
	return doc{
		{"type", "contract_output"},
		{"ledger_seq_no", l.Seq},
		{"ledger_hash", bin(l.Hash[:])},
		{"outputs", outs},
		{"output_hash", bin(outputHash[:])},
		{"hash_tree", tree},
		{"unl_sig", ss},
	}
}

// maxStatPeers is HotPocket's cap on the peers listed in stat_response.
const maxStatPeers = 100

func statResponseMsg(s Stat) doc {
	peers := s.Peers
	if len(peers) > maxStatPeers {
		peers = peers[:maxStatPeers]
	}
	ps := make(arr, len(peers))
	for i, p := range peers {
		ps[i] = p
	}
	return doc{
		{"type", "stat_response"},
		{"hp_version", s.HPVersion},
		{"ledger_seq_no", s.LCL.Seq},
		{"ledger_hash", bin(s.LCL.Hash[:])},
		{"vote_status", s.VoteStatus},
		{"round_time", uint64(s.RoundTime)},
		{"contract_execution_enabled", s.ContractExecutionEnabled},
		{"read_requests_enabled", s.ReadRequestsEnabled},
		{"is_full_history_node", s.IsFullHistoryNode},
		{"weakly_connected", s.WeaklyConnected},
		{"current_unl", wireKeys(s.CurrentUNL)},
		{"peers", ps},
	}
}

func lclResponseMsg(l LedgerID) doc {
	return doc{
		{"type", "lcl_response"},
		{"ledger_seq_no", l.Seq},
		{"ledger_hash", bin(l.Hash[:])},
	}
}

func readResponseMsg(replyFor string, content []byte) doc {
	return doc{
		{"type", "contract_read_response"},
		{"reply_for", replyFor},
		{"content", blob{b: content, raw: true}},
	}
}

func unlChangeMsg(unl []ed25519.PublicKey) doc {
	return doc{
		{"type", "unl_change"},
		{"unl", wireKeys(unl)},
	}
}

func ledgerValue(l *Ledger, rawJSON bool) doc {
	d := doc{
		{"seq_no", l.Seq},
		{"timestamp", l.Timestamp},
		{"hash", bin(l.Hash[:])},
		{"prev_hash", bin(l.PrevHash[:])},
		{"state_hash", bin(l.StateHash[:])},
		{"config_hash", bin(l.ConfigHash[:])},
		{"user_hash", bin(l.UserHash[:])},
		{"input_hash", bin(l.InputHash[:])},
		{"output_hash", bin(l.OutputHash[:])},
	}
	if l.HasInputs {
		ins := make(arr, len(l.Inputs))
		for i, in := range l.Inputs {
			ins[i] = doc{
				{"pubkey", bin(WireKey(in.User))},
				{"hash", bin(in.Hash[:])},
				{"nonce", in.Nonce},
				{"blob", blob{b: in.Blob}},
			}
		}
		d = append(d, kv{"inputs", ins})
	}
	if l.HasOutputs {
		outs := make(arr, len(l.Outputs))
		for i, o := range l.Outputs {
			bs := make(arr, len(o.Blobs))
			for j, b := range o.Blobs {
				bs[j] = blob{b: b, raw: rawJSON}
			}
			outs[i] = doc{
				{"pubkey", bin(WireKey(o.User))},
				{"hash", bin(o.Hash[:])},
				{"blobs", bs},
			}
		}
		d = append(d, kv{"outputs", outs})
	}
	return d
}

func ledgerCreatedMsg(l *Ledger) doc {
	// A ledger event never carries raw inputs or outputs, whatever the Backend filled in.
	hdr := *l
	hdr.HasInputs, hdr.HasOutputs = false, false
	return doc{
		{"type", "ledger_event"},
		{"event", "ledger_created"},
		{"ledger", ledgerValue(&hdr, false)},
	}
}

func voteStatusMsg(status string) doc {
	return doc{
		{"type", "ledger_event"},
		{"event", "vote_status"},
		{"vote_status", status},
	}
}

// ledgerQueryError is HotPocket's only ledger query error string.
const ledgerQueryError = "exec_failure"

func ledgerQueryResultMsg(replyFor string, l *Ledger, failed, rawJSON bool) doc {
	results := arr{}
	if l != nil && !failed {
		results = append(results, ledgerValue(l, rawJSON))
	}
	var errv any
	if failed {
		errv = ledgerQueryError
	}
	return doc{
		{"type", "ledger_query_result"},
		{"reply_for", replyFor},
		{"error", errv},
		{"results", results},
	}
}
