package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config configures a Node. Zero durations and limits take the defaults
// documented on each field; Validate checks the rest.
type Config struct {
	// Key is the node's Ed25519 identity. Required.
	Key ed25519.PrivateKey
	// ContractID is the contract this mesh serves; peers of another contract
	// are refused. Required, at most 128 bytes.
	ContractID string

	// ListenAddr is the UDP address to bind, e.g. "0.0.0.0:22860".
	// Ignored when PacketConn is set.
	ListenAddr string
	// PacketConn, if set, is used instead of binding ListenAddr (the node
	// takes ownership and closes it).
	PacketConn net.PacketConn
	// AdvertiseAddr is the host:port put in this node's peer record.
	// Default: the bound address, if its IP is specified.
	AdvertiseAddr string
	// Bootstrap lists peer addresses (host:port) to dial without knowing
	// their key.
	Bootstrap []string
	// DisableLanes keeps requests on QUIC streams: the node neither listens on the TCP port
	// of its address nor dials its peers' (lane.go). Lanes are also off when PacketConn is set.
	DisableLanes bool
	// DataDir, if set, is where the known-peer file (peers.bin) persists
	// across restarts.
	DataDir string

	// MaxConnections caps connected peers (default 64).
	MaxConnections int
	// MaxConnsPerHost caps inbound connections from one IP (default 8).
	MaxConnsPerHost int

	// IdleTimeout closes a connection with no traffic (default 30s);
	// keep-alives are sent at a third of it.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds QUIC and mesh handshakes (default 5s).
	HandshakeTimeout time.Duration
	// DialInterval is how often the node looks for peers to dial (default 1s).
	DialInterval time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff after a failed
	// dial (defaults 500ms and 60s).
	BackoffMin, BackoffMax time.Duration
	// RecordExpiry is how long a peer record is gossiped after it was signed
	// (default 1h). ReannounceInterval is how often the node re-signs and
	// pushes its own record (default RecordExpiry/4).
	RecordExpiry, ReannounceInterval time.Duration
	// MaxClockSkew is how far in the future a record may be stamped
	// (default 1 min).
	MaxClockSkew time.Duration
	// PingInterval is how often round-trip time is measured (default 5s).
	PingInterval time.Duration

	// MaxMessageSize bounds an application message's payload (default 4 MiB).
	MaxMessageSize int
	// MaxRequestSize bounds a request body this node accepts (default 64 KiB).
	MaxRequestSize int
	// MaxResponseSize bounds a response body this node sends (default 64 MiB).
	MaxResponseSize int
	// SendQueue is the per-peer queue of outgoing messages (default 1024);
	// a message that does not fit is dropped and counted.
	SendQueue int

	// BytesPerMinute and BadPerMinute are per-peer receive limits
	// (defaults 1 GiB and 30). A peer over either is cut off for CutOff
	// (default 1 min).
	BytesPerMinute int64
	BadPerMinute   int
	CutOff         time.Duration

	// Logger receives the mesh's logs (default slog.Default()).
	Logger *slog.Logger
	// Metrics receives per-peer counters (default NopMetrics).
	Metrics Metrics
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// withDefaults returns a copy with zero fields replaced by defaults.
func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	seti := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	seti(&c.MaxConnections, 64)
	seti(&c.MaxConnsPerHost, 8)
	set(&c.IdleTimeout, 30*time.Second)
	set(&c.HandshakeTimeout, 5*time.Second)
	set(&c.DialInterval, time.Second)
	set(&c.BackoffMin, 500*time.Millisecond)
	set(&c.BackoffMax, time.Minute)
	set(&c.RecordExpiry, time.Hour)
	set(&c.ReannounceInterval, c.RecordExpiry/4)
	set(&c.MaxClockSkew, time.Minute)
	set(&c.PingInterval, 5*time.Second)
	seti(&c.MaxMessageSize, 4<<20)
	seti(&c.MaxRequestSize, 64<<10)
	seti(&c.MaxResponseSize, 64<<20)
	seti(&c.SendQueue, 1024)
	if c.BytesPerMinute == 0 {
		c.BytesPerMinute = 1 << 30
	}
	seti(&c.BadPerMinute, 30)
	set(&c.CutOff, time.Minute)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NopMetrics{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate names the first field that is missing or out of range.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case len(c.Key) != ed25519.PrivateKeySize:
		return fmt.Errorf("p2p config: Key: %d bytes, want an Ed25519 private key", len(c.Key))
	case c.ContractID == "":
		return errors.New("p2p config: ContractID: required")
	case len(c.ContractID) > maxContractIDLen:
		return fmt.Errorf("p2p config: ContractID: %d bytes, bound %d", len(c.ContractID), maxContractIDLen)
	case c.PacketConn == nil && c.ListenAddr == "":
		return errors.New("p2p config: ListenAddr: required when PacketConn is nil")
	case c.MaxConnections < 0 || c.MaxConnsPerHost < 0:
		return errors.New("p2p config: MaxConnections, MaxConnsPerHost: must not be negative")
	case c.BackoffMin > c.BackoffMax:
		return fmt.Errorf("p2p config: BackoffMin %s exceeds BackoffMax %s", c.BackoffMin, c.BackoffMax)
	case c.ReannounceInterval >= c.RecordExpiry:
		return fmt.Errorf("p2p config: ReannounceInterval %s must be below RecordExpiry %s", c.ReannounceInterval, c.RecordExpiry)
	case c.MaxMessageSize < 0 || c.MaxMessageSize > 64<<20:
		return fmt.Errorf("p2p config: MaxMessageSize %d: must be in 0..64 MiB", c.MaxMessageSize)
	case c.MaxRequestSize < 0 || c.MaxRequestSize > 64<<20:
		return fmt.Errorf("p2p config: MaxRequestSize %d: must be in 0..64 MiB", c.MaxRequestSize)
	case c.MaxResponseSize < 0 || c.SendQueue < 0 || c.BytesPerMinute < 0 || c.BadPerMinute < 0:
		return errors.New("p2p config: MaxResponseSize, SendQueue, BytesPerMinute, BadPerMinute: must not be negative")
	}
	if c.AdvertiseAddr != "" {
		if err := checkAddr(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("p2p config: AdvertiseAddr: %w", err)
		}
	}
	for _, b := range c.Bootstrap {
		if err := checkAddr(b); err != nil {
			return fmt.Errorf("p2p config: Bootstrap: %w", err)
		}
	}
	return nil
}
