package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
)

// Validate checks every field once; the error names the first bad field and the problem.
func (c *HPConfig) Validate() error {
	if c.HPVersion == "" {
		return fieldErr("hp_version", errors.New("required"))
	}
	if _, _, err := c.Keys(); err != nil {
		return err
	}
	if err := oneOf("node.role", c.Node.Role, "validator", "observer"); err != nil {
		return err
	}
	if err := oneOf("node.history", c.Node.History, "full", "custom"); err != nil {
		return err
	}
	if c.Node.History == "custom" && c.Node.HistoryConfig.MaxPrimaryShards == 0 {
		return fieldErr("node.history_config.max_primary_shards", errors.New("must be > 0 when history is custom"))
	}
	if c.Contract.ID == "" {
		return fieldErr("contract.id", errors.New("required"))
	}
	if c.Contract.Log.Enable && (c.Contract.Log.MaxMBytesPerFile == 0 || c.Contract.Log.MaxFileCount == 0) {
		return fieldErr("contract.log", errors.New("max_mbytes_per_file and max_file_count must be > 0 when enabled"))
	}
	patch := c.Contract.Patch()
	if err := patch.Validate(); err != nil {
		return prefixField("contract.", err)
	}
	if err := c.Mesh.validate(); err != nil {
		return err
	}
	if err := c.User.validate(); err != nil {
		return err
	}
	if c.Mesh.Port == c.User.Port && !c.Mesh.DisableLanes {
		// Both are TCP listeners then: the user server's wss and the mesh's lanes.
		return fieldErr("user.port", fmt.Errorf("equals mesh.port %d, whose TCP port carries the mesh's lanes (or set mesh.disable_lanes)", c.Mesh.Port))
	}
	if err := oneOf("hpfs.log.log_level", c.HPFS.Log.LogLevel, "dbg", "inf", "wrn", "err"); err != nil {
		return err
	}
	if c.HPFS.KeepVersions == 0 {
		return fieldErr("hpfs.keep_versions", errors.New("must be > 0"))
	}
	if err := oneOf("log.log_level", c.Log.LogLevel, "dbg", "inf", "wrn", "err"); err != nil {
		return err
	}
	for i, l := range c.Log.Loggers {
		if err := oneOf(fmt.Sprintf("log.loggers[%d]", i), l, "console", "file"); err != nil {
			return err
		}
	}
	if c.Sync.Workers == 0 || c.Sync.Workers > 256 {
		return fieldErr("sync.workers", errors.New("must be 1..256"))
	}
	if c.Sync.MaxProofEntries == 0 {
		return fieldErr("sync.max_proof_entries", errors.New("must be > 0"))
	}
	if c.Sync.MaxProofBytes < 64<<10 || c.Sync.MaxProofBytes > 64<<20 {
		return fieldErr("sync.max_proof_bytes", errors.New("must be 64 KiB..64 MiB"))
	}
	if k := c.Ledger.KeepLedgers; k != 0 && (c.Sync.CatchUpLedgers == 0 || k < c.Sync.CatchUpLedgers) {
		// A node behind by fewer ledgers than catchup_ledgers fetches them one by one from its peers,
		// so the peers must still keep them; beyond that gap it re-anchors if they are gone.
		return fieldErr("ledger.keep_ledgers", fmt.Errorf("must be 0 (keep all) or at least sync.catchup_ledgers (%d, itself > 0)", c.Sync.CatchUpLedgers))
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			return fieldErr("metrics.listen", err)
		}
	}
	return nil
}

func (m *Mesh) validate() error {
	if m.Port == 0 {
		return fieldErr("mesh.port", errors.New("must be 1..65535"))
	}
	if m.ListenHost == "" {
		return fieldErr("mesh.listen_host", errors.New("required (0.0.0.0 binds every address)"))
	}
	if m.AdvertiseAddr != "" {
		if err := validHostPort(m.AdvertiseAddr); err != nil {
			return fieldErr("mesh.advertise_addr", err)
		}
	}
	for i, p := range m.KnownPeers {
		if err := validHostPort(p); err != nil {
			return fieldErr(fmt.Sprintf("mesh.known_peers[%d]", i), err)
		}
	}
	if m.PeerDiscovery.Enabled && m.PeerDiscovery.Interval == 0 {
		return fieldErr("mesh.peer_discovery.interval", errors.New("must be > 0 when discovery is enabled"))
	}
	if m.PeerDiscovery.Enabled && m.PeerDiscovery.RecordTTL < m.PeerDiscovery.Interval {
		return fieldErr("mesh.peer_discovery.record_ttl", errors.New("must be >= interval, or records expire before they are re-announced"))
	}
	return nil
}

func (u *User) validate() error {
	if u.Port == 0 {
		return fieldErr("user.port", errors.New("must be 1..65535"))
	}
	if u.ListenHost == "" {
		return fieldErr("user.listen_host", errors.New("required (0.0.0.0 binds every address)"))
	}
	if u.ConcurrentReadRequests == 0 || u.ConcurrentReadRequests > 32 {
		return fieldErr("user.concurrent_read_requests", errors.New("must be 1..32"))
	}
	return nil
}

func validHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if host == "" {
		return errors.New("empty host")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("port %q must be 1..65535", port)
	}
	return nil
}

func oneOf(field, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fieldErr(field, fmt.Errorf("%q is not one of %q", v, allowed))
}

func prefixField(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: prefix + fe.Field, Err: fe.Err}
	}
	return err
}
