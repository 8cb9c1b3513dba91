package hpfs

import (
	"fmt"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// maxKeptNodes bounds the tree a daemon keeps between sessions (about 300 bytes a node): a
// session that loaded more starts the next one from a fresh tree.
const maxKeptNodes = 1 << 20

// committedFile is a file buildRoot wrote: its node and the leaves that changed.
type committedFile struct {
	n       *ovNode
	changed map[uint64]merkle.Hash
}

// rebase turns the tree of a session whose commit just made root the head into a clean tree
// over root, so a later session can reopen it (and the kernel keep its inodes): every written
// file then reads its new leaves from the store, every directory whose entries changed searches
// root's directory for names it has not loaded, and nodes unlinked in the session are dead
// (their objects may leave the store with old versions). The caller holds mu; on error the tree
// must not be reused.
func (s *rwSession) rebase(root merkle.Hash, t time.Time) error {
	changedDirs := map[*ovNode]bool{}
	mark := func(d *ovNode) {
		for ; d != nil && !changedDirs[d]; d = d.parent {
			changedDirs[d] = true
		}
	}
	for d := range s.touched {
		mark(d)
	}
	for _, cf := range s.committed {
		f := cf.n.file
		nLeaves := ceilDiv(f.size, s.ls)
		leaves := make([]merkle.Hash, nLeaves)
		for i := range nLeaves {
			h, ok := cf.changed[i]
			if !ok {
				// buildRoot hashed every dirty leaf and every zero leaf past baseValid, so a
				// leaf it did not change is a base leaf.
				if i >= f.baseValid || i >= uint64(len(f.baseLeaves)) {
					return fmt.Errorf("rebase: leaf %d of a %d-byte file has no hash", i, f.size)
				}
				h = f.baseLeaves[i]
			}
			leaves[i] = h
		}
		f.baseHash, f.baseLeaves, f.loaded, f.baseValid = merkle.Hash{}, leaves, true, nLeaves
		f.dirty = map[uint64]*slot{}
		f.lastIdx, f.lastData = ^uint64(0), nil
		mark(cf.n.parent)
	}
	for _, n := range s.detached {
		if n.parent == nil {
			n.dead = true
		}
	}
	for d := range changedDirs {
		if d.dead {
			continue
		}
		d.removed = nil
		if d.full {
			continue // every name is loaded: the base directory is never searched again
		}
		p, ok := s.path(d)
		if !ok {
			continue
		}
		e, err := merkle.Lookup(s.store, root, p)
		if err != nil {
			return fmt.Errorf("rebase: directory %q in %s: %w", p, root, err)
		}
		d.baseDir = e.Hash
	}
	s.base, s.baseTime = root, t
	s.ops, s.committed, s.detached = nil, nil, nil
	s.dirty, s.touched = map[*ovNode]bool{}, map[*ovNode]bool{}
	s.mutated = false
	return nil
}
