package hpfsdsync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
	"github.com/hpfs/hpnode/statesync"
)

// The adapters speak hpfsd's control protocol: the proof operations in its binary mode over a
// pool of connections (hpfs.ProtoClient: raw proof bytes, several calls at once), the small
// operations (versions, ls) as JSON (hpfs.Call). hpfsd owns the store; these adapters never
// open it.

// Source is a statesync.ProofSource over the hpfsd control socket: it serves the daemon's
// committed versions with range and change proofs, and split hints from op ls. Each proof is
// built in the shared region of a leased connection; the idle ones (up to hpfs.DefaultMaxIdle)
// keep the pages their proofs touched, about a proof's size each, while the node serves, and
// are closed after hpfs.DefaultIdleTimeout without a proof to build.
type Source struct {
	socket string
	pc     *hpfs.ProtoClient
	index  *statesync.SplitIndex
}

// NewSource returns a source over the hpfsd listening on socket.
func NewSource(socket string) *Source {
	s := &Source{socket: socket, pc: hpfs.NewProtoClient(socket)}
	s.index = statesync.NewSplitIndex(s.list)
	return s
}

// Close closes the source's idle connections to hpfsd.
func (s *Source) Close() error { return s.pc.Close() }

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

// limit maps statesync's limits (0: none) to the wire's (0: the daemon's defaults).
func limit(n int) uint32 {
	if n <= 0 || n > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}

// RangeProof implements statesync.ProofSource. hpfsd answers a root it does not keep with
// hpfs.ErrUnknownVersion, which becomes statesync.ErrUnknownRoot (a NACK).
func (s *Source) RangeProof(ctx context.Context, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	// The proof is built into memory shared with hpfsd, with room for the server's response
	// around it (statesync.Proof.Buf); the lease holding that memory is released once the
	// response has been sent (statesync.Proof.Release).
	l, p, err := s.leased(ctx, func(l *hpfs.Lease) (hpfs.ProofIn, error) {
		return l.RangeProofIn(ctx, root, start, end, limit(maxEntries), limit(maxBytes), statesync.ResponseHeadroom, statesync.ResponseTailroom)
	})
	if err != nil {
		if errors.Is(err, hpfs.ErrUnknownVersion) {
			return statesync.Proof{}, fmt.Errorf("range proof at %s: %w: %w", hex8(root), statesync.ErrUnknownRoot, err)
		}
		return statesync.Proof{}, err
	}
	return statesync.Proof{Kind: statesync.ProofRange, Bytes: p.Proof, End: p.End, Buf: p.Buf, Release: l.Release}, nil
}

// ChangeProof implements statesync.ProofSource; hpfsd answers a base it no longer keeps as a
// version with a fallback proof.
func (s *Source) ChangeProof(ctx context.Context, base, root merkle.Hash, start, end merkle.Key, maxEntries, maxBytes int) (statesync.Proof, error) {
	l, p, err := s.leased(ctx, func(l *hpfs.Lease) (hpfs.ProofIn, error) {
		return l.ChangeProofIn(ctx, base, root, start, end, limit(maxEntries), limit(maxBytes), statesync.ResponseHeadroom, statesync.ResponseTailroom)
	})
	if err != nil {
		if errors.Is(err, hpfs.ErrUnknownVersion) {
			return statesync.Proof{}, fmt.Errorf("change proof to %s: %w: %w", hex8(root), statesync.ErrUnknownRoot, err)
		}
		return statesync.Proof{}, err
	}
	return statesync.Proof{Kind: statesync.ProofChange, Bytes: p.Proof, End: p.End, Buf: p.Buf, Release: l.Release}, nil
}

// leased builds a proof with build on a leased connection, and once more on a fresh lease if
// that connection turned out dead (hpfsd restarted since it was pooled). On success the caller
// owns the lease (the proof lies in its region); on failure it is released.
func (s *Source) leased(ctx context.Context, build func(*hpfs.Lease) (hpfs.ProofIn, error)) (*hpfs.Lease, hpfs.ProofIn, error) {
	for attempt := 0; ; attempt++ {
		l, err := s.pc.Lease(ctx)
		if err != nil {
			return nil, hpfs.ProofIn{}, err
		}
		p, err := build(l)
		if err == nil {
			return l, p, nil
		}
		l.Release()
		if !l.Broken() || attempt > 0 || ctx.Err() != nil {
			return nil, hpfs.ProofIn{}, err
		}
	}
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
