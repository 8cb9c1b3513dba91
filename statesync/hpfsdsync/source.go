package hpfsdsync

import (
	"context"
	"fmt"
	"slices"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/statesync"
)

// The adapters speak hpfsd's control protocol (hpfs.Call, one JSON request per unix
// connection). hpfsd owns the store; these adapters never open it.

// Source is a statesync.ProofSource over the hpfsd control socket: it serves the daemon's committed
// versions (op versions) with ops range-proof and change-proof, and split hints from op ls.
type Source struct {
	socket string
	index  *statesync.SplitIndex
}

// NewSource returns a source over the hpfsd listening on socket.
func NewSource(socket string) *Source {
	s := &Source{socket: socket}
	s.index = statesync.NewSplitIndex(s.list)
	return s
}

// Roots implements statesync.ProofSource: the daemon's versions, newest first.
func (s *Source) Roots(context.Context) ([]merkle.Hash, error) {
	var vs []hpfs.VersionInfo
	if err := hpfs.Call(s.socket, hpfs.Request{Op: hpfs.OpVersions}, &vs); err != nil {
		return nil, err
	}
	slices.SortFunc(vs, func(a, b hpfs.VersionInfo) int { return int(b.Seq) - int(a.Seq) })
	out := make([]merkle.Hash, 0, len(vs))
	for _, v := range vs {
		h, err := merkle.ParseHash(v.Root)
		if err != nil {
			return nil, fmt.Errorf("hpfsd versions: %w", err)
		}
		out = append(out, h)
	}
	return out, nil
}

// has asks the daemon whether root is a version it keeps. Asking first (rather than parsing
// the daemon's error text) is what turns "not held" into a NACK reliably.
func (s *Source) has(ctx context.Context, root merkle.Hash) (bool, error) {
	roots, err := s.Roots(ctx)
	if err != nil {
		return false, err
	}
	return slices.Contains(roots, root), nil
}

// RangeProof implements statesync.ProofSource.
func (s *Source) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	ok, err := s.has(ctx, root)
	if err != nil {
		return statesync.Proof{}, err
	}
	if !ok {
		return statesync.Proof{}, fmt.Errorf("range proof at %s: %w", hex8(root), statesync.ErrUnknownRoot)
	}
	var out hpfs.ProofInfo
	err = hpfs.Call(s.socket, hpfs.Request{Op: hpfs.OpRangeProof, Version: root.String(), Start: start, End: end,
		MaxEntries: maxEntries, MaxBytes: maxBytes}, &out)
	if err != nil {
		return statesync.Proof{}, err
	}
	var p merkle.RangeProof
	if err := p.UnmarshalBinary(out.Proof); err != nil {
		return statesync.Proof{}, fmt.Errorf("hpfsd range proof: %w", err)
	}
	return statesync.Proof{Kind: statesync.ProofRange, Bytes: out.Proof, End: p.End}, nil
}

// ChangeProof implements statesync.ProofSource; a base the daemon no longer keeps as a version gets a
// fallback proof.
func (s *Source) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	roots, err := s.Roots(ctx)
	if err != nil {
		return statesync.Proof{}, err
	}
	if !slices.Contains(roots, root) {
		return statesync.Proof{}, fmt.Errorf("change proof to %s: %w", hex8(root), statesync.ErrUnknownRoot)
	}
	if !slices.Contains(roots, base) {
		rp, err := s.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
		if err != nil {
			return statesync.Proof{}, err
		}
		return statesync.FallbackProof(rp)
	}
	var out hpfs.ProofInfo
	err = hpfs.Call(s.socket, hpfs.Request{Op: hpfs.OpChangeProof, Root1: base.String(), Root2: root.String(),
		Start: start, End: end, MaxEntries: maxEntries, MaxBytes: maxBytes}, &out)
	if err != nil {
		return statesync.Proof{}, err
	}
	var p merkle.ChangeProof
	if err := p.UnmarshalBinary(out.Proof); err != nil {
		return statesync.Proof{}, fmt.Errorf("hpfsd change proof: %w", err)
	}
	return statesync.Proof{Kind: statesync.ProofChange, Bytes: out.Proof, End: p.End}, nil
}

// SplitKeys implements statesync.ProofSource from a walk of the version with op ls (cached per root).
func (s *Source) SplitKeys(ctx context.Context, root merkle.Hash, after, end merkle.Key, n int) ([]merkle.Key, statesync.Totals, error) {
	return s.index.SplitKeys(ctx, root, after, end, n)
}

// list reads one directory of a version with op ls.
func (s *Source) list(_ context.Context, root merkle.Hash, path string, _ merkle.Hash) ([]merkle.Entry, error) {
	var infos []hpfs.EntryInfo
	if err := hpfs.Call(s.socket, hpfs.Request{Op: hpfs.OpLs, Version: root.String(), Path: path}, &infos); err != nil {
		return nil, err
	}
	out := make([]merkle.Entry, len(infos))
	for i, e := range infos {
		h, err := merkle.ParseHash(e.Hash)
		if err != nil {
			return nil, fmt.Errorf("ls %q: %w", path, err)
		}
		out[i] = merkle.Entry{Name: e.Name, Mode: e.Mode, Size: e.Size, Hash: h}
		switch e.Kind {
		case merkle.KindDir.String():
			out[i].Kind = merkle.KindDir
		case merkle.KindFile.String():
			out[i].Kind = merkle.KindFile
		case merkle.KindSymlink.String():
			out[i].Kind = merkle.KindSymlink
		default:
			return nil, fmt.Errorf("ls %q: entry %q of kind %q", path, e.Name, e.Kind)
		}
	}
	return out, nil
}

func hex8(h merkle.Hash) string { return h.String()[:8] }
