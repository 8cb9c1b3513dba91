package node

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/consensus"
	"github.com/hpfs/hpnode/hpfs"
)

// ensurePatch makes sure the state holds patch.cfg and returns the result that describes the
// state as it is (the genesis result of a fresh node).
//
// patch.cfg in the state is held by consensus, so once it exists it wins over hp.cfg: hp.cfg's
// contract section is rewritten from it. Only a state without patch.cfg (a fresh store) gets one
// written from hp.cfg, in canonical bytes, so every node of a new cluster writes identical bytes.
func (n *Node) ensurePatch() (consensus.Result, error) {
	head, err := n.fs.head()
	if err != nil {
		return consensus.Result{}, fmt.Errorf("state head: %w", err)
	}
	cfg := n.config()
	patch := cfg.Contract.Patch()
	root, patchHash := head.Root, head.PatchHash
	if strings.Trim(patchHash, "0") == "" {
		data, err := patch.Canonical()
		if err != nil {
			return consensus.Result{}, err
		}
		ci, err := n.writePatch(data)
		if err != nil {
			return consensus.Result{}, err
		}
		root, patchHash = ci.Root, ci.PatchHash
		n.logger.Info("patch.cfg written from hp.cfg", "patch", patchHash[:8])
	} else {
		data, err := os.ReadFile(filepath.Join(n.fs.mount, hpfs.CurrentView, "patch.cfg"))
		if err != nil {
			return consensus.Result{}, fmt.Errorf("read patch.cfg: %w", err)
		}
		p, err := config.ParsePatch(data)
		if err != nil {
			n.logger.Warn("patch.cfg in the state is invalid; running with hp.cfg's contract section until it is fixed", "err", err)
		} else {
			patch = p
			if !reflect.DeepEqual(cfg.Contract.Patch(), p) {
				n.cfgMu.Lock()
				n.cfg.Contract.ApplyPatch(p)
				cfg = n.cfg
				n.cfgMu.Unlock()
				if err := config.Save(n.layout.HPCfg(), cfg); err != nil {
					return consensus.Result{}, err
				}
				n.logger.Info("hp.cfg contract section updated from patch.cfg")
			}
		}
	}
	res, err := resultOf(0, root, patchHash)
	if err != nil {
		return consensus.Result{}, err
	}
	res.Config = unlConfig(patch)
	n.setLatestPatch(patch)
	return res, nil
}

func (n *Node) writePatch(data []byte) (hpfs.CommitInfo, error) {
	if err := n.fs.begin(); err != nil {
		return hpfs.CommitInfo{}, fmt.Errorf("write patch.cfg: %w", err)
	}
	path := filepath.Join(n.fs.mount, hpfs.RWView, "patch.cfg")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		_ = n.fs.rollback()
		return hpfs.CommitInfo{}, fmt.Errorf("write patch.cfg: %w", err)
	}
	ci, err := n.fs.commit()
	if err != nil {
		return hpfs.CommitInfo{}, fmt.Errorf("write patch.cfg: %w", err)
	}
	return ci, nil
}
