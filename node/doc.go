// Package node is the hpnode runtime: it wires the pure consensus state machine to the peer mesh
// (p2p), the contract runner (contractexec) inside hpfsd read-write sessions, the ledger store,
// state sync and the user server (userapi), and publishes status, logs and events.
//
// Consensus, the executor and the state syncer run as one session (session.go); a session ends only
// when the node finds itself far behind the cluster, and then the node fetches the missed ledgers
// and syncs its state instead of executing every ledger (catchup.go), as it does at start; when
// its peers no longer keep those ledgers, it re-anchors its chain on their newest (reanchor.go).
// Relayed inputs are checked on every core before the consensus loop sees them (verify.go).
//
// It owns every goroutine, socket and child process of a running node (hpfsd, contracts) and stops
// them on shutdown. It never touches hpfsd's store files (it asks hpfsd over its socket) and holds
// no package-level state: several nodes can run in one process (tests do).
package node
