package node

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/nodedir"
)

// Seed imports the node's contract bundle (copied by `hpnode new --contract`) into a fresh state
// store as state/, with patch.cfg in canonical bytes from hp.cfg, through `hpfsd import`. Every
// node seeded from the same bundle and contract section gets the same root. A node without a
// bundle starts with an empty state (and syncs it, or gets patch.cfg on first run).
func Seed(l nodedir.Layout, cfg config.HPConfig, hpfsdBin string) error {
	if _, err := os.Stat(l.Bundle()); os.IsNotExist(err) {
		return nil
	}
	bin, err := FindHPFSD(hpfsdBin)
	if err != nil {
		return err
	}
	p := cfg.Contract.Patch()
	data, err := p.Canonical()
	if err != nil {
		return err
	}
	patchFile := filepath.Join(l.CfgDir(), "patch.cfg.seed")
	if err := os.WriteFile(patchFile, data, 0o644); err != nil {
		return fmt.Errorf("seed state: %w", err)
	}
	defer os.Remove(patchFile)
	out, err := exec.Command(bin, "import", "--store", l.Store(), "--patch-cfg", patchFile, l.Bundle()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("seed state with hpfsd import: %v: %s", err, out)
	}
	return nil
}
