package userapi

import (
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults applied by Config.withDefaults; each matches HotPocket's behaviour (reference §3, §5.1).
const (
	DefaultHPVersion        = "0.6.4"
	DefaultMaxMessageBytes  = 5 << 20 // comm::DEFAULT_MAX_MSG_SIZE
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultConcurrentReads  = 4
	DefaultSendQueue        = 4096
	DefaultPingInterval     = 30 * time.Second
)

// Config is the user server's configuration. The zero value of every optional field means the
// default named in its comment.
type Config struct {
	ContractID      string             // required: sent in user_challenge and signed in the handshake
	ContractVersion string             // required
	HPVersion       string             // "0.6.x"; DefaultHPVersion if empty
	NodeKey         ed25519.PrivateKey // required: signs server challenges
	// TLS is required and must carry the node's certificate; the server never serves plain ws.
	TLS *tls.Config
	// MaxMessageBytes is user.max_bytes_per_msg: a larger message closes the connection with
	// status 1009 (message too big). DefaultMaxMessageBytes if 0.
	MaxMessageBytes int64
	// HandshakeTimeout closes a connection that has not completed the handshake in time (status
	// 1008, reason "handshake_timeout"). DefaultHandshakeTimeout if 0.
	HandshakeTimeout time.Duration
	// MaxConnections is user.max_connections (0 = unlimited): a connection over the limit is
	// accepted and closed at once with status 1013 (try again later), reason "max_connections".
	MaxConnections int
	// MaxConnectionsPerHost is user.max_in_connections_per_host (0 = unlimited), counted by remote
	// IP: a connection over it is closed with status 1013, reason "max_connections_per_host".
	MaxConnectionsPerHost int
	// IdleTimeout is user.idle_timeout (0 = none): a handshaken session that sends nothing for
	// this long is closed with status 1008, reason "idle_timeout".
	IdleTimeout time.Duration
	// PingInterval is how often a handshaken session is pinged; a client that does not answer
	// within another interval is dropped (reason "ping_timeout"), so a vanished client's key is
	// freed for its reconnection. DefaultPingInterval if 0; negative disables pings.
	PingInterval time.Duration
	// MaxBytesPerMin is user.max_bytes_per_min (0 = unlimited): a session that sends more in a
	// minute is closed with status 1008, reason "too_many_bytes".
	MaxBytesPerMin int64
	// MaxBadMsgsPerMin is user.max_bad_msgs_per_min (0 = unlimited). Malformed messages, unknown
	// types and bad signatures count; a Backend's legitimate rejections never do.
	MaxBadMsgsPerMin int
	// ConcurrentReads is user.concurrent_read_requests, node-wide (at most 32).
	// DefaultConcurrentReads if 0.
	ConcurrentReads int
	// SendQueue is how many messages may wait for one slow client before its session is closed
	// (status 1008, reason "send_queue_full"). DefaultSendQueue if 0.
	SendQueue int
	// RawJSONOutputs embeds JSON-looking outputs raw in JSON contract_output messages, as HotPocket
	// does. Off by default: the client then cannot verify such outputs (reference §3.5).
	RawJSONOutputs bool
	Logger         *slog.Logger // slog.Default() if nil
}

// Validate reports the first missing or out-of-range field.
func (c *Config) Validate() error {
	switch {
	case c.ContractID == "":
		return errors.New("userapi config: ContractID is empty")
	case c.ContractVersion == "":
		return errors.New("userapi config: ContractVersion is empty")
	case len(c.NodeKey) != ed25519.PrivateKeySize:
		return fmt.Errorf("userapi config: NodeKey has %d bytes, want %d", len(c.NodeKey), ed25519.PrivateKeySize)
	case c.TLS == nil || len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil:
		return errors.New("userapi config: TLS has no certificate")
	case c.HPVersion != "" && (len(c.HPVersion) < 4 || c.HPVersion[:4] != "0.6."):
		return fmt.Errorf("userapi config: HPVersion %q: the client accepts only 0.6.x", c.HPVersion)
	case c.MaxMessageBytes < 0:
		return fmt.Errorf("userapi config: MaxMessageBytes %d < 0", c.MaxMessageBytes)
	case c.HandshakeTimeout < 0:
		return fmt.Errorf("userapi config: HandshakeTimeout %v < 0", c.HandshakeTimeout)
	case c.MaxConnections < 0:
		return fmt.Errorf("userapi config: MaxConnections %d < 0", c.MaxConnections)
	case c.MaxConnectionsPerHost < 0:
		return fmt.Errorf("userapi config: MaxConnectionsPerHost %d < 0", c.MaxConnectionsPerHost)
	case c.IdleTimeout < 0:
		return fmt.Errorf("userapi config: IdleTimeout %v < 0", c.IdleTimeout)
	case c.MaxBytesPerMin < 0:
		return fmt.Errorf("userapi config: MaxBytesPerMin %d < 0", c.MaxBytesPerMin)
	case c.MaxBadMsgsPerMin < 0:
		return fmt.Errorf("userapi config: MaxBadMsgsPerMin %d < 0", c.MaxBadMsgsPerMin)
	case c.ConcurrentReads < 0 || c.ConcurrentReads > 32:
		return fmt.Errorf("userapi config: ConcurrentReads %d not in 0..32", c.ConcurrentReads)
	case c.SendQueue < 0:
		return fmt.Errorf("userapi config: SendQueue %d < 0", c.SendQueue)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.HPVersion == "" {
		c.HPVersion = DefaultHPVersion
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.ConcurrentReads == 0 {
		c.ConcurrentReads = DefaultConcurrentReads
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.SendQueue == 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
