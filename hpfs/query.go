package hpfs

import (
	"errors"
	"fmt"

	"github.com/hpfs/hpnode/merkle"
)

func readSymlink(store merkle.NodeStore, h merkle.Hash) (string, error) {
	return merkle.ReadSymlink(store, h)
}

// RootHashes returns the state and patch.cfg hashes of a root (zero patch hash when absent).
func RootHashes(store merkle.NodeStore, root merkle.Hash) (CommitResult, error) {
	res := CommitResult{Version: Version{Root: root}}
	st, err := merkle.Lookup(store, root, StateDir)
	if err != nil {
		return res, fmt.Errorf("state hash of %s: %w", root, err)
	}
	res.StateHash = st.Hash
	pc, err := merkle.Lookup(store, root, PatchFile)
	switch {
	case err == nil:
		res.PatchHash = pc.Hash
	case !errors.Is(err, merkle.ErrNotFound):
		return res, fmt.Errorf("patch hash of %s: %w", root, err)
	}
	return res, nil
}

// DiffKind says how a path differs between two roots.
type DiffKind string

// Diff kinds.
const (
	DiffAdded    DiffKind = "added"
	DiffRemoved  DiffKind = "removed"
	DiffModified DiffKind = "modified"
)

// DiffEntry is one difference between two trees.
type DiffEntry struct {
	Path string   `json:"path"`
	Kind DiffKind `json:"kind"`
	Old  string   `json:"old,omitempty"` // old hash hex
	New  string   `json:"new,omitempty"` // new hash hex
}

// Diff lists the paths that differ between root1 and root2, skipping every subtree whose hash is
// equal (so its cost is proportional to the change). An added or removed directory is one entry;
// a directory whose contents changed is reported through its changed children only, and a path
// whose kind changed is reported as removed and added.
func Diff(store merkle.NodeStore, root1, root2 merkle.Hash) ([]DiffEntry, error) {
	var out []DiffEntry
	var walk func(path string, a, b merkle.Hash) error
	walk = func(path string, a, b merkle.Hash) error {
		if a == b {
			return nil
		}
		ea, err := merkle.ReadDir(store, a)
		if err != nil {
			return fmt.Errorf("diff %q: %w", path, err)
		}
		eb, err := merkle.ReadDir(store, b)
		if err != nil {
			return fmt.Errorf("diff %q: %w", path, err)
		}
		i, j := 0, 0
		for i < len(ea) || j < len(eb) {
			switch {
			case j >= len(eb) || (i < len(ea) && ea[i].Name < eb[j].Name):
				out = append(out, DiffEntry{Path: joinPath(path, ea[i].Name), Kind: DiffRemoved, Old: ea[i].Hash.String()})
				i++
			case i >= len(ea) || eb[j].Name < ea[i].Name:
				out = append(out, DiffEntry{Path: joinPath(path, eb[j].Name), Kind: DiffAdded, New: eb[j].Hash.String()})
				j++
			default:
				x, y := ea[i], eb[j]
				p := joinPath(path, x.Name)
				i++
				j++
				if x == y {
					continue
				}
				if x.Kind != y.Kind {
					out = append(out, DiffEntry{Path: p, Kind: DiffRemoved, Old: x.Hash.String()},
						DiffEntry{Path: p, Kind: DiffAdded, New: y.Hash.String()})
					continue
				}
				if x.Kind == merkle.KindDir {
					if x.Mode != y.Mode {
						out = append(out, DiffEntry{Path: p, Kind: DiffModified, Old: x.Hash.String(), New: y.Hash.String()})
					}
					if err := walk(p, x.Hash, y.Hash); err != nil {
						return err
					}
					continue
				}
				out = append(out, DiffEntry{Path: p, Kind: DiffModified, Old: x.Hash.String(), New: y.Hash.String()})
			}
		}
		return nil
	}
	if err := walk("", root1, root2); err != nil {
		return nil, err
	}
	return out, nil
}
