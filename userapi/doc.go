// Package userapi serves HotPocket's user protocol over wss:// so that the unmodified npm
// hotpocket-js-client@0.5.7 can connect, submit inputs, receive verifiable outputs, run read
// requests, query ledgers and subscribe to UNL changes and ledger events (reference
// hotpocket.md §3, DESIGN §7).
//
// It owns: the websocket listener and one session per connection; the challenge handshake; strict
// decoding of every client message in JSON and BSON; the exact encoding of every server message;
// the per-user output proof (output hash, collapsed hash tree from package outtree, unl_sig) and
// the client's trust check over it (outputs.go), so the node produces exactly what UNL nodes sign.
//
// It relies on: a Backend (backend.go), implemented by the node, for everything that needs the
// ledger, consensus or the contract; the caller's TLS certificate and node key.
//
// It must never: decide whether an input is accepted (only the Backend, through consensus, does);
// block the Backend's event callback (events are queued per session and a session that cannot keep
// up is closed); let one user's bad input affect another user's session; count a legitimate
// rejection (nonce_expired, max_ledger_expired, ...) as abuse.
//
// Where HotPocket's behaviour is a bug, this package differs on purpose:
//   - JSON contract_output: every output is sent as a JSON string holding the contract's bytes,
//     so the client's verifyContractOutputTrust passes (HotPocket embeds JSON-looking outputs raw,
//     which the client cannot verify, reference §3.5). Config.RawJSONOutputs restores HotPocket's
//     embedding. Read responses keep HotPocket's raw embedding, but only of valid JSON.
//   - No user cap. A second connection with a key that already has a session, or one over a
//     connection limit, is closed with a status and reason (closereasons.go), never left half-open.
//     Websocket pings drop a client that vanished, so its key can reconnect.
//   - A connection that does not complete TLS and the challenge within Config.HandshakeTimeout is
//     closed; the server signs only short printable server challenges (validServerChallenge).
//   - Malformed messages, unknown types and bad signatures get HotPocket's rejection and count
//     against Config.MaxBadMsgsPerMin; a Backend's rejections never count.
package userapi
