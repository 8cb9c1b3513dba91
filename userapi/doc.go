// Package userapi serves HotPocket's user protocol over wss:// so that the unmodified npm
// hotpocket-js-client@0.5.7 can connect, submit inputs, receive verifiable outputs, run read
// requests, query ledgers and subscribe to UNL changes and ledger events (reference
// hotpocket.md §3, DESIGN §7).
//
// It owns: the websocket listener and one session per connection; the challenge handshake; strict
// decoding of every client message in JSON and BSON; the exact encoding of every server message;
// the per-user output proof (output hash, collapsed hash tree, unl_sig) and the pure helpers that
// compute them, so the node can produce what UNL nodes sign (outputs.go).
//
// It relies on: a Backend (backend.go), implemented by the node, for everything that needs the
// ledger, consensus or the contract; the caller's TLS certificate and node key.
//
// It must never: decide whether an input is accepted (only the Backend, through consensus, does);
// block the Backend's event callback (events are queued per session and a session that cannot keep
// up is closed); let one user's bad input affect another user's session; count a legitimate
// rejection (nonce_expired, max_ledger_expired, ...) as abuse.
package userapi
