package nodedir

import "path/filepath"

// Layout names every path of a node directory. HotPocket's names are kept where HotPocket has one
// (cfg/hp.cfg, cfg/tlscert.pem, contract_fs/mnt/rw), so operators find things where they expect.
type Layout struct{ Root string }

// CfgDir holds hp.cfg and the TLS pair.
func (l Layout) CfgDir() string { return filepath.Join(l.Root, "cfg") }

// HPCfg is the node configuration file.
func (l Layout) HPCfg() string { return filepath.Join(l.Root, "cfg", "hp.cfg") }

// TLSCert is the PEM certificate of the user (wss) server.
func (l Layout) TLSCert() string { return filepath.Join(l.Root, "cfg", "tlscert.pem") }

// TLSKey is the PEM private key of the user (wss) server.
func (l Layout) TLSKey() string { return filepath.Join(l.Root, "cfg", "tlskey.pem") }

// ContractFS is hpfsd's directory for the contract state.
func (l Layout) ContractFS() string { return filepath.Join(l.Root, "contract_fs") }

// Store is hpfsd's pebble store directory.
func (l Layout) Store() string { return filepath.Join(l.Root, "contract_fs", "store") }

// Mount is where hpfsd mounts the state views: mnt/current, mnt/rw, mnt/<read session>.
func (l Layout) Mount() string { return filepath.Join(l.Root, "contract_fs", "mnt") }

// HPFSSocket is hpfsd's control socket.
func (l Layout) HPFSSocket() string { return filepath.Join(l.Root, "contract_fs", "hpfsd.sock") }

// Ledger is the ledger chain's pebble store (hpnode's own; never hpfsd's).
func (l Layout) Ledger() string { return filepath.Join(l.Root, "ledger") }

// Peers is where the mesh persists known peers across restarts.
func (l Layout) Peers() string { return filepath.Join(l.Root, "peers") }

// LogDir holds the node's and hpfsd's log files.
func (l Layout) LogDir() string { return filepath.Join(l.Root, "log") }

// NodeLog is the node's log file (contract stdout/stderr lines included).
func (l Layout) NodeLog() string { return filepath.Join(l.Root, "log", "hp.log") }

// HPFSLog is hpfsd's log file.
func (l Layout) HPFSLog() string { return filepath.Join(l.Root, "log", "hpfs.log") }

// PIDFile holds the pid of a running `hpnode run` for this directory.
func (l Layout) PIDFile() string { return filepath.Join(l.Root, "hpnode.pid") }

// StatusFile is the node's last published status (JSON), read by `hpnode status`.
func (l Layout) StatusFile() string { return filepath.Join(l.Root, "status.json") }

// Bundle is where `hpnode new --contract` keeps a copy of the contract bundle it seeded the
// state from, for operators (the state itself lives in hpfsd).
func (l Layout) Bundle() string { return filepath.Join(l.Root, "contract_bundle") }
