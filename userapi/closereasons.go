package userapi

// Close reasons sent in the websocket close frame when the server ends a session, with the
// status code each is sent with. Each is a stable string a client or an operator can match.
// A message over Config.MaxMessageBytes is closed by the websocket layer with status 1009.
const (
	CloseHandshakeTimeout = "handshake_timeout"        // 1008: no valid challenge response in time
	CloseBadHandshake     = "bad_handshake"            // 1008: malformed user_challenge_response
	CloseBadChallengeSig  = "bad_challenge_sig"        // 1008: the challenge signature does not verify
	CloseDuplicateUser    = "duplicate_user"           // 1008: this key already has a session here
	CloseMaxConnections   = "max_connections"          // 1013: Config.MaxConnections reached
	CloseMaxPerHost       = "max_connections_per_host" // 1013: Config.MaxConnectionsPerHost reached
	CloseIdleTimeout      = "idle_timeout"             // 1008: Config.IdleTimeout without a message
	ClosePingTimeout      = "ping_timeout"             // logged only: the client stopped answering pings
	CloseTooManyBytes     = "too_many_bytes"           // 1008: Config.MaxBytesPerMin exceeded
	CloseTooManyBadMsgs   = "too_many_bad_messages"    // 1008: Config.MaxBadMsgsPerMin exceeded
	CloseSendQueueFull    = "send_queue_full"          // logged only: the connection is dropped, its socket is full
	CloseServerShutdown   = "server_shutdown"          // 1001: the node is stopping
	CloseInternal         = "internal_error"           // 1011: the Backend failed the handshake
)
