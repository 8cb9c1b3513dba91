package hpfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// The control protocol: one JSON Request per connection on a unix socket, answered by one JSON
// Response, then the server closes the connection. Byte fields (keys, proofs) are base64 in JSON
// (encoding/json's []byte encoding). Hashes are lowercase hex. The proof operations also have a
// binary mode on the same socket, for speed (proto_frame.go).

// MaxRequestBytes bounds a control request (a proof being applied is the largest).
const MaxRequestBytes = 256 << 20

// Control operations.
const (
	OpRWBegin     = "rw.begin"
	OpRWCommit    = "rw.commit"
	OpRWRollback  = "rw.rollback"
	OpROOpen      = "ro.open"
	OpROClose     = "ro.close"
	OpHash        = "hash"
	OpLs          = "ls"
	OpVersions    = "versions"
	OpDiff        = "diff"
	OpRangeProof  = "range-proof"
	OpChangeProof = "change-proof"
	OpApplyProof  = "apply-proof"
	OpSyncAbort   = "sync.abort" // forget a proof sync in progress
	OpSyncBegin   = "sync.begin" // start (or move) a proof sync to Target from the head
	OpStatus      = "status"
)

// Request is one control call. Which fields matter depends on Op.
type Request struct {
	Op         string `json:"op"`
	Name       string `json:"name,omitempty"`    // ro.open, ro.close
	Path       string `json:"path,omitempty"`    // hash, ls: tree path ("" is the root)
	Version    string `json:"version,omitempty"` // root hex; "" means the head
	Root1      string `json:"root1,omitempty"`   // diff, change-proof
	Root2      string `json:"root2,omitempty"`   // diff, change-proof
	Start      []byte `json:"start,omitempty"`   // proof range start key
	End        []byte `json:"end,omitempty"`     // proof range end key; absent: to the end
	MaxEntries int    `json:"max_entries,omitempty"`
	MaxBytes   int    `json:"max_bytes,omitempty"`
	Proof      []byte `json:"proof,omitempty"`  // apply-proof: a marshalled proof
	Kind       string `json:"kind,omitempty"`   // apply-proof: "range" or "change"
	Target     string `json:"target,omitempty"` // apply-proof, sync.begin: root hex being synced to
	// apply-proof of a change proof: Root1 is its base root.
}

// Response answers a Request.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// VersionInfo is a Version in JSON.
type VersionInfo struct {
	Seq  uint64    `json:"seq"`
	Root string    `json:"root"`
	Time time.Time `json:"time"`
}

func versionInfo(v Version) VersionInfo {
	return VersionInfo{Seq: v.Seq, Root: v.Root.String(), Time: v.Time}
}

// CommitInfo is the result of rw.commit.
type CommitInfo struct {
	Version   VersionInfo `json:"version"`
	Root      string      `json:"root"`
	StateHash string      `json:"state_hash"`
	PatchHash string      `json:"patch_hash"` // all zeros when patch.cfg is absent
}

// EntryInfo is a merkle.Entry in JSON.
type EntryInfo struct {
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	Kind string `json:"kind"`
	Mode uint32 `json:"mode"`
	Size uint64 `json:"size"`
	Hash string `json:"hash"`
}

func entryInfo(path string, e merkle.Entry) EntryInfo {
	return EntryInfo{Name: e.Name, Path: path, Kind: e.Kind.String(), Mode: e.Mode, Size: e.Size, Hash: e.Hash.String()}
}

// HashInfo is the result of hash.
type HashInfo struct {
	Root      string    `json:"root"`
	StateHash string    `json:"state_hash"`
	PatchHash string    `json:"patch_hash"`
	Entry     EntryInfo `json:"entry"`
}

// ProofInfo carries a marshalled proof.
type ProofInfo struct {
	Proof []byte `json:"proof"`
}

// ApplyInfo is the result of apply-proof.
type ApplyInfo struct {
	Done      bool         `json:"done"`
	Remaining []KeyRange   `json:"remaining,omitempty"`
	Version   *VersionInfo `json:"version,omitempty"` // set when Done made the target a version
}

// KeyRange is an inclusive key range in JSON; a nil End means to the end of the key space.
type KeyRange struct {
	Start []byte `json:"start"`
	End   []byte `json:"end,omitempty"`
	Base  string `json:"base,omitempty"` // root hex a change proof for this range may start from
}

// StatusInfo is the result of status.
type StatusInfo struct {
	Head       VersionInfo            `json:"head"`
	RWOpen     bool                   `json:"rw_open"`
	ROSessions map[string]VersionInfo `json:"ro_sessions"`
	Mount      string                 `json:"mount"`
}

// DecodeRequest reads one request: the whole stream up to EOF (the client half-closes after
// sending), at most MaxRequestBytes, exactly one JSON object with known fields.
func DecodeRequest(r io.Reader) (Request, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return Request{}, fmt.Errorf("read request: %w", err)
	}
	if len(b) > MaxRequestBytes {
		return Request{}, fmt.Errorf("decode request: larger than %d bytes", MaxRequestBytes)
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("decode request: %w", err)
	}
	if dec.More() {
		return Request{}, errors.New("decode request: trailing data after the request")
	}
	if req.Op == "" {
		return Request{}, errors.New("decode request: op is empty")
	}
	return req, nil
}

// parseRoot parses a root hex; "" gives the head.
func (d *Daemon) parseRoot(s string) (merkle.Hash, error) {
	if s == "" {
		return d.store.Head().Root, nil
	}
	h, err := merkle.ParseHash(s)
	if err != nil {
		return merkle.Hash{}, fmt.Errorf("version %q: %w", s, err)
	}
	if !d.store.HasVersion(h) {
		return merkle.Hash{}, fmt.Errorf("version %s: %w", h, ErrUnknownVersion)
	}
	return h, nil
}

// Handle executes one request. It is what the control socket calls; tests call it directly.
func (d *Daemon) Handle(req Request) (any, error) {
	switch req.Op {
	case OpRWBegin:
		v, err := d.BeginRW()
		return versionInfo(v), err
	case OpRWCommit:
		res, err := d.CommitRW()
		if err != nil {
			return nil, err
		}
		return CommitInfo{Version: versionInfo(res.Version), Root: res.Version.Root.String(),
			StateHash: res.StateHash.String(), PatchHash: res.PatchHash.String()}, nil
	case OpRWRollback:
		return struct{}{}, d.RollbackRW()
	case OpROOpen:
		var root *merkle.Hash
		if req.Version != "" {
			h, err := merkle.ParseHash(req.Version)
			if err != nil {
				return nil, fmt.Errorf("version %q: %w", req.Version, err)
			}
			root = &h
		}
		v, err := d.OpenRO(req.Name, root)
		return versionInfo(v), err
	case OpROClose:
		return struct{}{}, d.CloseRO(req.Name)
	case OpHash:
		root, err := d.parseRoot(req.Version)
		if err != nil {
			return nil, err
		}
		return HashOf(d.store, root, req.Path)
	case OpLs:
		root, err := d.parseRoot(req.Version)
		if err != nil {
			return nil, err
		}
		return List(d.store, root, req.Path)
	case OpVersions:
		vs := d.store.Versions()
		out := make([]VersionInfo, len(vs))
		for i, v := range vs {
			out[i] = versionInfo(v)
		}
		return out, nil
	case OpDiff:
		r1, err := d.parseRoot(req.Root1)
		if err != nil {
			return nil, err
		}
		r2, err := d.parseRoot(req.Root2)
		if err != nil {
			return nil, err
		}
		return Diff(d.store, r1, r2)
	case OpRangeProof, OpChangeProof, OpApplyProof, OpSyncAbort, OpSyncBegin:
		return d.handleProof(req)
	case OpStatus:
		st := StatusInfo{Head: versionInfo(d.store.Head()), RWOpen: d.RWOpen(), Mount: d.opts.MountDir,
			ROSessions: map[string]VersionInfo{}}
		for n, v := range d.ROSessions() {
			st.ROSessions[n] = versionInfo(v)
		}
		return st, nil
	}
	return nil, fmt.Errorf("unknown op %q", req.Op)
}

// HashOf returns the entry at path in root, with the root's state and patch hashes.
func HashOf(store merkle.NodeStore, root merkle.Hash, path string) (HashInfo, error) {
	if err := merkle.ValidatePath(path); err != nil {
		return HashInfo{}, fmt.Errorf("path %q: %w", path, err)
	}
	e, err := merkle.Lookup(store, root, path)
	if err != nil {
		return HashInfo{}, fmt.Errorf("hash %q: %w", path, err)
	}
	rh, err := RootHashes(store, root)
	if err != nil {
		return HashInfo{}, err
	}
	return HashInfo{Root: root.String(), StateHash: rh.StateHash.String(), PatchHash: rh.PatchHash.String(),
		Entry: entryInfo(path, e)}, nil
}

// List returns the entries of the directory at path in root (or the entry itself if not a dir).
func List(store merkle.NodeStore, root merkle.Hash, path string) ([]EntryInfo, error) {
	if err := merkle.ValidatePath(path); err != nil {
		return nil, fmt.Errorf("path %q: %w", path, err)
	}
	e, err := merkle.Lookup(store, root, path)
	if err != nil {
		return nil, fmt.Errorf("ls %q: %w", path, err)
	}
	if e.Kind != merkle.KindDir {
		return []EntryInfo{entryInfo(path, e)}, nil
	}
	entries, err := merkle.ReadDir(store, e.Hash)
	if err != nil {
		return nil, fmt.Errorf("ls %q: %w", path, err)
	}
	out := make([]EntryInfo, len(entries))
	for i, c := range entries {
		out[i] = entryInfo(joinPath(path, c.Name), c)
	}
	return out, nil
}

// ServeControl answers control requests on a unix socket at path until ctx is done. A stale
// socket file from a crash is replaced; the lock on the store guarantees no other live daemon.
func (d *Daemon) ServeControl(ctx context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen %s: %w", path, err)
	}
	// The socket controls the state: only the daemon's user may connect.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			wg.Wait()
			os.Remove(path)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.serveConn(ctx, conn)
		}()
	}
}

// serveConn answers one connection: a JSON request, or binary-mode frames when the client
// starts with the binary preamble (JSON starts with '{' or white space, never 'H').
func (d *Daemon) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 64<<10)
	if first, err := br.Peek(1); err == nil && first[0] == frameMagic[0] {
		d.serveBinary(ctx, conn, br)
		return
	}
	var resp Response
	req, err := DecodeRequest(br)
	var res any
	if err == nil {
		res, err = d.Handle(req)
	}
	if err != nil {
		resp.Error = err.Error()
	} else {
		resp.OK = true
		if resp.Result, err = json.Marshal(res); err != nil {
			resp.OK, resp.Error, resp.Result = false, fmt.Sprintf("encode result: %v", err), nil
		}
	}
	if err := json.NewEncoder(conn).Encode(resp); err != nil {
		d.log.Debug("control reply", "err", err)
	}
}

// Call sends one request to the daemon at socket and decodes its result into out (if non-nil).
func Call(socket string, req Request, out any) error {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return fmt.Errorf("connect to hpfsd at %s: %w", socket, err)
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return fmt.Errorf("send %s: %w", req.Op, err)
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		if err := uc.CloseWrite(); err != nil {
			return fmt.Errorf("send %s: %w", req.Op, err)
		}
	}
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return fmt.Errorf("read reply to %s: %w", req.Op, err)
	}
	if !resp.OK {
		return fmt.Errorf("%s: %s", req.Op, resp.Error)
	}
	if out != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, out); err != nil {
			return fmt.Errorf("decode result of %s: %w", req.Op, err)
		}
	}
	return nil
}
