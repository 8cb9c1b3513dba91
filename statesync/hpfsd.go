package statesync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
)

// The hpfsd adapters speak hpfsd's control protocol (hpfs.Call, one JSON request per unix
// connection). hpfsd owns the store; these adapters never open it.

// HPFSSource is a ProofSource over the hpfsd control socket: it serves the daemon's committed
// versions (op versions) with ops range-proof and change-proof, and split hints from op ls.
type HPFSSource struct {
	socket string
	index  *indexCache
}

// NewHPFSSource returns a source over the hpfsd listening on socket.
func NewHPFSSource(socket string) *HPFSSource {
	s := &HPFSSource{socket: socket}
	s.index = newIndexCache(s.list)
	return s
}

// Roots implements ProofSource: the daemon's versions, newest first.
func (s *HPFSSource) Roots(context.Context) ([]merkle.Hash, error) {
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
func (s *HPFSSource) has(ctx context.Context, root merkle.Hash) (bool, error) {
	roots, err := s.Roots(ctx)
	if err != nil {
		return false, err
	}
	return slices.Contains(roots, root), nil
}

// RangeProof implements ProofSource.
func (s *HPFSSource) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error) {
	ok, err := s.has(ctx, root)
	if err != nil {
		return Proof{}, err
	}
	if !ok {
		return Proof{}, fmt.Errorf("range proof at %s: %w", hex8(root), ErrUnknownRoot)
	}
	var out hpfs.ProofInfo
	err = hpfs.Call(s.socket, hpfs.Request{Op: hpfs.OpRangeProof, Version: root.String(), Start: start, End: end,
		MaxEntries: maxEntries, MaxBytes: maxBytes}, &out)
	if err != nil {
		return Proof{}, err
	}
	var p merkle.RangeProof
	if err := p.UnmarshalBinary(out.Proof); err != nil {
		return Proof{}, fmt.Errorf("hpfsd range proof: %w", err)
	}
	return Proof{Kind: ProofRange, Bytes: out.Proof, End: p.End}, nil
}

// ChangeProof implements ProofSource; a base the daemon no longer keeps as a version gets a
// fallback proof.
func (s *HPFSSource) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (Proof, error) {
	roots, err := s.Roots(ctx)
	if err != nil {
		return Proof{}, err
	}
	if !slices.Contains(roots, root) {
		return Proof{}, fmt.Errorf("change proof to %s: %w", hex8(root), ErrUnknownRoot)
	}
	if !slices.Contains(roots, base) {
		rp, err := s.RangeProof(ctx, root, start, end, maxEntries, maxBytes)
		if err != nil {
			return Proof{}, err
		}
		return fallbackProof(rp)
	}
	var out hpfs.ProofInfo
	err = hpfs.Call(s.socket, hpfs.Request{Op: hpfs.OpChangeProof, Root1: base.String(), Root2: root.String(),
		Start: start, End: end, MaxEntries: maxEntries, MaxBytes: maxBytes}, &out)
	if err != nil {
		return Proof{}, err
	}
	var p merkle.ChangeProof
	if err := p.UnmarshalBinary(out.Proof); err != nil {
		return Proof{}, fmt.Errorf("hpfsd change proof: %w", err)
	}
	return Proof{Kind: ProofChange, Bytes: out.Proof, End: p.End}, nil
}

// SplitKeys implements ProofSource from a walk of the version with op ls (cached per root).
func (s *HPFSSource) SplitKeys(ctx context.Context, root merkle.Hash, after, end merkle.Key, n int) ([]merkle.Key, Totals, error) {
	idx, err := s.index.get(ctx, root)
	if err != nil {
		return nil, Totals{}, err
	}
	return idx.split(after, end, n), idx.totals(), nil
}

// list reads one directory of a version with op ls.
func (s *HPFSSource) list(_ context.Context, root merkle.Hash, path string, _ merkle.Hash) ([]merkle.Entry, error) {
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

// HPFSSink is a ProofSink over the hpfsd control socket (op apply-proof). hpfsd verifies every
// proof again through merkle before storing it and, when Done, commits the target as a version.
type HPFSSink struct {
	socket string
}

// NewHPFSSink returns a sink applying through the hpfsd listening on socket.
func NewHPFSSink(socket string) *HPFSSink { return &HPFSSink{socket: socket} }

// Apply implements ProofSink. hpfsd reports a failed verification as an error whose text
// carries merkle's "merkle: " sentinel text; that (and only that) becomes ErrBadProof.
func (s *HPFSSink) Apply(_ context.Context, req ApplyRequest) (ApplyResult, error) {
	hr := hpfs.Request{Op: hpfs.OpApplyProof, Kind: req.Kind.String(), Target: req.Target.String(),
		Start: req.Start, End: req.End, Proof: req.Proof}
	if req.Kind == ProofChange {
		hr.Root1 = req.Base.String()
	}
	var out hpfs.ApplyInfo
	if err := hpfs.Call(s.socket, hr, &out); err != nil {
		if strings.Contains(err.Error(), "merkle: ") {
			return ApplyResult{}, fmt.Errorf("%w: %w", ErrBadProof, err)
		}
		return ApplyResult{}, err
	}
	res := ApplyResult{Done: out.Done}
	for _, r := range out.Remaining {
		start := merkle.Key(r.Start)
		if start == nil {
			start = merkle.Key{}
		}
		var end merkle.Key
		if r.End != nil {
			end = merkle.Key(r.End)
		}
		res.Remaining = append(res.Remaining, merkle.KeyRange{Start: start, End: end})
	}
	return res, nil
}
