package nodedir

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hpfs/hpnode/config"
)

// OverrideFile is the optional file in a contract bundle that is deep-merged into hp.cfg (as
// HotPocket's devkit does) and not copied into the state.
const OverrideFile = "hp.cfg.override"

// CreateOptions are the flags of `hpnode new`. Zero values take defaults: a random contract id, a
// UNL of just this node, HotPocket's default ports.
type CreateOptions struct {
	ContractID string
	UNL        []string // node public keys ("ed" + hex); empty means [this node]
	Peers      []string // host:port of known peers
	UserPort   uint16
	PeerPort   uint16
	Contract   string // contract bundle directory, copied to Layout.Bundle(); may be empty
	// Configure, if set, edits the configuration after defaults and flags and before the bundle's
	// hp.cfg.override is merged (cluster creation uses it for timing and public mode).
	Configure func(*config.HPConfig)
}

// Create lays out a new node directory at root and writes its hp.cfg, key and TLS pair. root must
// not exist or be empty, so an existing node's key is never overwritten.
func Create(root string, opts CreateOptions) (config.HPConfig, error) {
	l := Layout{Root: root}
	if err := ensureEmptyDir(root); err != nil {
		return config.HPConfig{}, err
	}
	for _, d := range []string{l.CfgDir(), l.ContractFS(), l.Mount(), l.LogDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return config.HPConfig{}, fmt.Errorf("create %s: %w", d, err)
		}
	}
	cfg := config.Default()
	pub, priv, err := config.NewKeyPair()
	if err != nil {
		return config.HPConfig{}, err
	}
	cfg.Node.PublicKey, cfg.Node.PrivateKey = pub, priv
	cfg.Contract.ID = opts.ContractID
	if cfg.Contract.ID == "" {
		if cfg.Contract.ID, err = newUUID(); err != nil {
			return config.HPConfig{}, err
		}
	}
	cfg.Contract.UNL = []string{pub}
	if len(opts.UNL) > 0 {
		cfg.Contract.UNL = append([]string(nil), opts.UNL...)
	}
	if len(opts.Peers) > 0 {
		cfg.Mesh.KnownPeers = append([]string(nil), opts.Peers...)
	}
	if opts.UserPort != 0 {
		cfg.User.Port = opts.UserPort
	}
	if opts.PeerPort != 0 {
		cfg.Mesh.Port = opts.PeerPort
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	if opts.Contract != "" {
		if cfg, err = copyBundle(opts.Contract, l.Bundle(), cfg); err != nil {
			return config.HPConfig{}, err
		}
	}
	if err := WriteSelfSignedTLS(l.TLSCert(), l.TLSKey(), "hpnode "+pub[:10]); err != nil {
		return config.HPConfig{}, err
	}
	if err := config.Save(l.HPCfg(), cfg); err != nil {
		return config.HPConfig{}, err
	}
	return cfg, nil
}

func ensureEmptyDir(root string) error {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(root, 0o755)
	}
	if err != nil {
		return fmt.Errorf("node dir %s: %w", root, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("node dir %s is not empty: refusing to overwrite an existing node", root)
	}
	return nil
}

// copyBundle copies the contract bundle to dst (without hp.cfg.override) and merges the override,
// if any, into cfg. The merged result must still be a valid configuration.
func copyBundle(src, dst string, cfg config.HPConfig) (config.HPConfig, error) {
	info, err := os.Stat(src)
	if err != nil {
		return cfg, fmt.Errorf("contract bundle: %w", err)
	}
	if !info.IsDir() {
		return cfg, fmt.Errorf("contract bundle %s is not a directory", src)
	}
	if err := copyTree(src, dst); err != nil {
		return cfg, fmt.Errorf("copy contract bundle: %w", err)
	}
	override, err := os.ReadFile(filepath.Join(src, OverrideFile))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("read %s: %w", OverrideFile, err)
	}
	base, err := json.Marshal(cfg)
	if err != nil {
		return cfg, err
	}
	merged, err := config.DeepMerge(base, override)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", OverrideFile, err)
	}
	out, err := config.Parse(merged)
	if err != nil {
		return cfg, fmt.Errorf("hp.cfg after merging %s: %w", OverrideFile, err)
	}
	return out, nil
}

// copyTree copies regular files, directories and symlinks from src to dst, keeping modes.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == OverrideFile {
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		default:
			return fmt.Errorf("%s: unsupported file type %s", path, info.Mode().Type())
		}
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("contract id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
