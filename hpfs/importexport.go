package hpfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hpfs/hpnode/merkle"
)

// addDir copies the plain directory src into the editor at tree path dst (which must exist),
// putting new leaves into store.
func addDir(ed *merkle.Editor, store merkle.NodeStore, p merkle.Params, src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read dir %s: %w", src, err)
	}
	for _, de := range entries {
		name := de.Name()
		if err := merkle.ValidateName(name); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(src, name), err)
		}
		if err := addPath(ed, store, p, filepath.Join(src, name), joinPath(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

// addPath copies one plain file, symlink or directory (recursively) to tree path dst.
func addPath(ed *merkle.Editor, store merkle.NodeStore, p merkle.Params, src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("stat %s: %w", src, err)
	}
	mode := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	switch {
	case fi.IsDir():
		if err := ed.Mkdir(dst, mode); err != nil {
			return fmt.Errorf("mkdir %s: %w", dst, err)
		}
		return addDir(ed, store, p, src, dst)
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", src, err)
		}
		if err := ed.Symlink(dst, target); err != nil {
			return fmt.Errorf("symlink %s: %w", dst, err)
		}
		return nil
	case fi.Mode().IsRegular():
		changed, size, err := storeFileLeaves(store, p, src)
		if err != nil {
			return err
		}
		if err := ed.WriteFile(dst, mode, size, changed); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		return nil
	}
	return fmt.Errorf("%s: %v files cannot be part of the state", src, fi.Mode().Type())
}

func storeFileLeaves(store merkle.NodeStore, p merkle.Params, path string) (map[uint64]merkle.Hash, uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	changed := map[uint64]merkle.Hash{}
	var size uint64
	for i := uint64(0); ; i++ {
		buf := make([]byte, p.LeafSize)
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			h := merkle.LeafHash(buf[:n])
			if err := store.PutLeaf(h, buf[:n]); err != nil {
				return nil, 0, err
			}
			changed[i] = h
			size += uint64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return changed, size, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// HashDir computes, from scratch in memory, the root of a plain directory laid out like a view:
// dir/state (required) and dir/patch.cfg (optional). Pointed at <mount>/current it must equal the
// head root; that is how tests and operators check the store against its own contents.
func HashDir(dir string, p merkle.Params) (merkle.Hash, error) {
	mem := merkle.NewMemStore()
	ed, err := merkle.NewEditor(mem, merkle.EmptyRoot(), p)
	if err != nil {
		return merkle.Hash{}, err
	}
	if err := addPath(ed, mem, p, filepath.Join(dir, StateDir), StateDir); err != nil {
		return merkle.Hash{}, err
	}
	patch := filepath.Join(dir, PatchFile)
	if _, err := os.Lstat(patch); err == nil {
		if err := addPath(ed, mem, p, patch, PatchFile); err != nil {
			return merkle.Hash{}, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return merkle.Hash{}, err
	}
	return ed.Commit()
}

// Import replaces state/ of the store's head with the contents of the plain directory src (and
// patch.cfg with the file patchFile, if not empty) and commits that as one new version.
func Import(store *Store, src, patchFile string) (Version, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return Version{}, fmt.Errorf("import: %w", err)
	}
	if !fi.IsDir() {
		return Version{}, fmt.Errorf("import: %s is not a directory", src)
	}
	p := store.Params()
	ov := NewOverlay(store)
	ed, err := merkle.NewEditor(ov, store.Head().Root, p)
	if err != nil {
		return Version{}, fmt.Errorf("import: %w", err)
	}
	if err := ed.Remove(StateDir); err != nil {
		return Version{}, fmt.Errorf("import: clear state: %w", err)
	}
	if err := addPath(ed, ov, p, src, StateDir); err != nil {
		return Version{}, fmt.Errorf("import: %w", err)
	}
	if patchFile != "" {
		if err := ed.Remove(PatchFile); err != nil && !errors.Is(err, merkle.ErrNotFound) {
			return Version{}, fmt.Errorf("import: %w", err)
		}
		if err := addPath(ed, ov, p, patchFile, PatchFile); err != nil {
			return Version{}, fmt.Errorf("import: %w", err)
		}
	}
	root, err := ed.Commit()
	if err != nil {
		return Version{}, fmt.Errorf("import: %w", err)
	}
	return store.Commit(root, ov)
}

// Export writes the version root into dest (created; must not exist or be empty) as
// dest/state/... and dest/patch.cfg (when present).
func Export(store merkle.NodeStore, root merkle.Hash, dest string) error {
	if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 {
		return fmt.Errorf("export: %s is not empty", dest)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	entries, err := merkle.ReadDir(store, root)
	if err != nil {
		return fmt.Errorf("export %s: %w", root, err)
	}
	for _, e := range entries {
		if err := exportEntry(store, e, filepath.Join(dest, e.Name)); err != nil {
			return err
		}
	}
	return nil
}

func exportEntry(store merkle.NodeStore, e merkle.Entry, dst string) error {
	switch e.Kind {
	case merkle.KindDir:
		if err := os.Mkdir(dst, 0o700); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		entries, err := merkle.ReadDir(store, e.Hash)
		if err != nil {
			return fmt.Errorf("export %s: %w", dst, err)
		}
		for _, c := range entries {
			if err := exportEntry(store, c, filepath.Join(dst, c.Name)); err != nil {
				return err
			}
		}
	case merkle.KindSymlink:
		t, err := merkle.ReadSymlink(store, e.Hash)
		if err != nil {
			return fmt.Errorf("export %s: %w", dst, err)
		}
		return os.Symlink(t, dst)
	case merkle.KindFile:
		if err := exportFile(store, e, dst); err != nil {
			return err
		}
	default:
		return fmt.Errorf("export %s: unknown kind %v", dst, e.Kind)
	}
	if err := os.Chmod(dst, fs.FileMode(e.Mode&0o777)|modeBits(e.Mode)); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func modeBits(m uint32) fs.FileMode {
	var out fs.FileMode
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

func exportFile(store merkle.NodeStore, e merkle.Entry, dst string) error {
	leaves, err := merkle.FileLeaves(store, e.Hash)
	if err != nil {
		return fmt.Errorf("export %s: %w", dst, err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, h := range leaves {
		data, err := store.GetLeaf(h)
		if err != nil {
			f.Close()
			return fmt.Errorf("export %s: %w", dst, err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return fmt.Errorf("export %s: %w", dst, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export %s: %w", dst, err)
	}
	return nil
}
