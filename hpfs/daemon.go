package hpfs

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/hpfs/hpnode/merkle"
)

// Sentinel errors of session control; the control socket reports them by message.
var (
	ErrSessionOpen   = errors.New("a read-write session is already open")
	ErrNoSession     = errors.New("no read-write session is open")
	ErrNameInUse     = errors.New("session name in use")
	ErrNoSuchSession = errors.New("no such read-only session")
	ErrBadName       = errors.New("invalid session name")
)

// View names reserved in the mount root.
const (
	CurrentView = "current"
	RWView      = "rw"
)

// DaemonOptions configures StartDaemon.
type DaemonOptions struct {
	Store    StoreOptions
	MountDir string
	// CacheTimeout is the kernel entry/attr cache timeout. Views are immutable (ro) or changed only
	// through the mount (rw), and views are replaced with fresh inodes on commit and rollback, so
	// a long timeout is safe. 0 means one minute.
	CacheTimeout time.Duration
	Debug        bool // log every FUSE request
	// PlainMount mounts through go-fuse's usual path even as root, without the daemon's own
	// /dev/fuse descriptor: rw/ then starts every session from a fresh tree (what a non-root
	// daemon or an old kernel gets). For tests of that path.
	PlainMount bool
	// FuseLog receives the Debug lines (one per request and reply); nil means go-fuse's default
	// logger (stderr). fsbench counts FUSE operations per workload through it.
	FuseLog *log.Logger
}

// Daemon owns one store and its FUSE mount: the views, the sessions and the sync applier.
type Daemon struct {
	store *Store
	log   *slog.Logger
	opts  DaemonOptions
	view  *view
	inos  inoAlloc
	srv   *fuse.Server
	root  *mountRoot
	files *fileCache
	done  chan struct{} // closed when the FUSE server has exited
	// pushes are the rw sessions' page-cache pushes in flight (rwpush.go); Close waits for
	// them before unmounting.
	pushes sync.WaitGroup
	// drops are the ended rw sessions' scratch files being freed (scratch.dropFile); Close
	// waits for them.
	drops sync.WaitGroup

	conn  *fuseConn // nil: mounted by fusermount or the kernel lacks expire-only notifications
	ownFd bool      // mounted by mountOwnFd: Close unmounts itself

	mu     sync.Mutex // guards the fields below and orders session changes
	rw     *rwSession // the open rw session, nil between sessions
	rwNode *fs.Inode
	// idle is the tree of the last rw session, kept after its commit (or a rollback that changed
	// nothing) with its inodes: it is exactly the head version, so the next BeginRW on that head
	// reopens it and the kernel keeps every name, attribute and cached page under rw/.
	idle     *rwSession
	idleNode *fs.Inode
	current  *fs.Inode
	ro       map[string]*roSession
	sync     *syncState
}

type roSession struct {
	ver   Version
	node  *fs.Inode
	unpin func()
}

// fileCacheBytes bounds the plain-file copies that back passthrough reads of read-only views.
const fileCacheBytes = 1 << 30

// StartDaemon opens the store (taking its lock), cleans a stale mount left by a crash, and mounts
// the views at opts.MountDir.
func StartDaemon(opts DaemonOptions) (*Daemon, error) {
	if opts.MountDir == "" {
		return nil, errors.New("daemon options: MountDir is empty")
	}
	if opts.CacheTimeout == 0 {
		opts.CacheTimeout = time.Minute
	}
	log := opts.Store.Logger
	if log == nil {
		log = slog.Default()
	}
	st, err := OpenStore(opts.Store)
	if err != nil {
		return nil, err
	}
	if hp := ReadHaltPoll("/sys"); hp.Off() {
		log.Warn("guest halt polling is off: every FUSE round trip wakes halted vCPUs (about 2× the latency of stat, small writes and creates)",
			"setting", hp.String(), "fix", HaltPollAdvice)
	}
	log.Info("FUSE latency settings", "machine", MachineLatency("/sys"))
	d := &Daemon{store: st, log: log, opts: opts, ro: map[string]*roSession{}}
	d.view = &view{uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), entry: opts.CacheTimeout,
		attrTO: opts.CacheTimeout, statDir: opts.Store.Dir}
	if d.files, err = newFileCache(filepath.Join(opts.Store.Dir, "cache"), fileCacheBytes); err != nil {
		st.Close()
		return nil, err
	}
	if err := d.mount(); err != nil {
		st.Close()
		return nil, err
	}
	log.Info("hpfsd serving", "store", opts.Store.Dir, "mount", opts.MountDir, "head", st.Head().Seq,
		"root", hex8(st.Head().Root))
	return d, nil
}

func hex8(h merkle.Hash) string { return h.String()[:8] }

// CleanStaleMount detaches whatever is mounted at dir (a FUSE mount whose daemon died leaves
// "transport endpoint is not connected" behind). Nothing mounted is not an error.
func CleanStaleMount(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount stale %s: %w", dir, err)
}

func (d *Daemon) mount() error {
	dir := d.opts.MountDir
	if err := CleanStaleMount(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create mount dir: %w", err)
	}
	d.root = &mountRoot{v: d.view}
	timeout := d.opts.CacheTimeout
	fsopts := &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:        "hpfs",
			Name:          "hpfs",
			MaxWrite:      1 << 20,
			MaxReadAhead:  1 << 20,
			DisableXAttrs: true, // the kernel then answers every xattr call with ENOTSUP itself
			AllowOther:    os.Geteuid() == 0,
			// No default_permissions: the daemon checks permissions itself (perm.go).
			Debug:  d.opts.Debug,
			Logger: d.opts.FuseLog,
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		UID:             d.view.uid,
		GID:             d.view.gid,
	}
	var srv *fuse.Server
	var conn *fuseConn
	var own bool
	var err error
	if !d.opts.PlainMount {
		if srv, conn, own, err = mountOwnFd(dir, d.root, fsopts); err != nil {
			return err
		}
	}
	if !own {
		if srv, err = fs.Mount(dir, d.root, fsopts); err != nil {
			return fmt.Errorf("mount %s: %w", dir, err)
		}
	}
	d.srv, d.conn, d.ownFd = srv, conn, own
	d.done = make(chan struct{})
	go func() { // owned by the Daemon: Close waits for it
		srv.Wait()
		close(d.done)
	}()
	d.mu.Lock()
	d.current = d.newROInode(d.store.Head())
	d.root.AddChild(CurrentView, d.current, true)
	d.mu.Unlock()
	return nil
}

func (d *Daemon) newROInode(v Version) *fs.Inode {
	rv := &roView{files: d.files, store: d.store, ver: v, ls: uint64(d.store.Params().LeafSize)}
	n := newRONode(d.view, rv, merkle.Entry{Kind: merkle.KindDir, Mode: merkle.RootMode, Hash: v.Root})
	return d.root.NewPersistentInode(context.Background(), n, fs.StableAttr{Mode: syscall.S_IFDIR})
}

// Done is closed when the FUSE server has exited (Close, or an external unmount).
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Store returns the daemon's store.
func (d *Daemon) Store() *Store { return d.store }

// MountDir returns where the views are mounted.
func (d *Daemon) MountDir() string { return d.opts.MountDir }

// Close ends the sessions, unmounts and closes the store. Uncommitted rw data is dropped, as a
// crash would.
func (d *Daemon) Close() error {
	d.mu.Lock()
	for _, s := range []*rwSession{d.rw, d.idle} {
		if s != nil {
			s.mu.Lock()
			s.end()
			s.release()
			s.mu.Unlock()
		}
	}
	d.rw, d.idle = nil, nil
	for name, s := range d.ro {
		s.unpin()
		delete(d.ro, name)
	}
	d.mu.Unlock()
	d.pushes.Wait()
	d.drops.Wait()
	var err error
	if d.srv != nil {
		if uerr := d.unmount(); uerr != nil {
			d.log.Warn("unmount failed, detaching", "mount", d.opts.MountDir, "err", uerr)
			err = CleanStaleMount(d.opts.MountDir)
		}
		<-d.done
	}
	d.conn.close()
	if cerr := d.store.Close(); err == nil {
		err = cerr
	}
	if rerr := os.RemoveAll(d.files.dir); err == nil {
		err = rerr
	}
	return err
}

// unmount detaches the mount: go-fuse cannot unmount a connection it was handed as /dev/fd/N,
// so a mount made by mountOwnFd is unmounted here (the serve loop then ends on ENODEV).
func (d *Daemon) unmount() error {
	if !d.ownFd {
		return d.srv.Unmount()
	}
	var err error
	for try := range 5 {
		if err = unix.Unmount(d.opts.MountDir, 0); err == nil || !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(time.Duration(try+1) * 5 * time.Millisecond) // the kernel may still hold a closing file
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", d.opts.MountDir, err)
	}
	return nil
}

// notify tells the kernel that a name in the mount root changed. It must run without d.mu held:
// the kernel may need to call back into the filesystem to process it.
func (d *Daemon) notify(name string) {
	if errno := d.root.NotifyEntry(name); errno != 0 && errno != syscall.ENOENT {
		d.log.Debug("notify entry", "name", name, "errno", errno)
	}
}

// BeginRW opens the read-write session on the head version and shows it at <mount>/rw. It is
// O(1): nothing is loaded until the first lookup. When the last session's tree is still the head
// (it was committed, or rolled back unchanged), that tree is reopened with its inodes, so the
// kernel's cached names, attributes and pages under rw/ stay valid.
func (d *Daemon) BeginRW() (Version, error) {
	d.mu.Lock()
	if d.rw != nil {
		d.mu.Unlock()
		return Version{}, ErrSessionOpen
	}
	head := d.store.Head()
	var stale *fs.Inode
	if d.idle != nil && d.idle.base == head.Root {
		s, in := d.idle, d.idleNode
		d.idle, d.idleNode = nil, nil
		s.mu.Lock()
		s.reopen()
		s.mu.Unlock()
		d.root.AddChild(RWView, in, true)
		d.rw, d.rwNode = s, in
		d.mu.Unlock()
		d.expire(RWView)
		d.log.Info("rw begin", "base", hex8(head.Root), "seq", head.Seq, "tree", "kept")
		return head, nil
	}
	if d.idle != nil { // the head moved under it (a sync applied a version)
		d.idle.mu.Lock()
		d.idle.release()
		d.idle.mu.Unlock()
		stale = d.idleNode
		d.idle, d.idleNode = nil, nil
	}
	s, err := newRWSession(d.store, d.store.Params(), head.Root, head.Time, &d.inos, d.opts.Store.Dir)
	if err != nil {
		d.mu.Unlock()
		d.retire(RWView, stale)
		return Version{}, fmt.Errorf("rw begin: %w", err)
	}
	s.pushes = &d.pushes
	s.sc.drops = &d.drops
	rn := &rwNode{v: d.view, s: s, n: s.root}
	in := d.root.NewPersistentInode(context.Background(), rn, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: s.root.ino})
	d.root.AddChild(RWView, in, true)
	d.rw, d.rwNode = s, in
	d.mu.Unlock()
	d.retire(RWView, stale)
	d.notify(RWView)
	d.log.Info("rw begin", "base", hex8(head.Root), "seq", head.Seq)
	return head, nil
}

// expire tells the kernel a name in the mount root must be looked up again, keeping what is
// cached below it (see fuseConn.expireEntry); without the daemon's own connection it drops the
// name and everything below, which is slower but as correct. It must run without d.mu held.
func (d *Daemon) expire(name string) {
	if d.conn == nil {
		d.notify(name)
		return
	}
	if err := d.conn.expireEntry(name); err != nil {
		d.log.Warn("expire entry failed, invalidating", "name", name, "err", err)
		d.notify(name)
	}
}

// CommitResult is what a commit produced.
type CommitResult struct {
	Version   Version
	StateHash merkle.Hash // Lookup(root, "state").Hash
	PatchHash merkle.Hash // Lookup(root, "patch.cfg").Hash; zero when absent
}

// CommitRW hashes the session's dirty leaves, builds the new root, makes it a durable version in
// one synced batch, ends the session and points current/ at it. On error the session stays open
// (the caller may retry or roll back) and the head is unchanged.
func (d *Daemon) CommitRW() (CommitResult, error) {
	d.mu.Lock()
	s := d.rw
	if s == nil {
		d.mu.Unlock()
		return CommitResult{}, ErrNoSession
	}
	s.mu.Lock()
	ov := NewOverlay(d.store)
	start := time.Now()
	root, err := s.buildRoot(ov, d.store.Params())
	hashed := time.Now()
	var v Version
	if err == nil {
		v, err = d.store.Commit(root, ov)
	}
	stored := time.Now()
	if err != nil {
		s.mu.Unlock()
		d.mu.Unlock()
		return CommitResult{}, fmt.Errorf("rw commit: %w", err)
	}
	// The session's tree now is the new head: keep it for the next session (see BeginRW).
	keep := d.conn != nil && s.nodes <= maxKeptNodes
	if keep {
		if rerr := s.rebase(v.Root, v.Time); rerr != nil {
			d.log.Warn("rw tree not kept after commit", "err", rerr)
			keep = false
		}
	}
	s.end()
	if keep = keep && !s.sc.closed; !keep {
		s.release()
	}
	s.mu.Unlock()
	old := d.endRWLocked()
	if keep {
		d.idle, d.idleNode = s, old
	}
	d.current = d.newROInode(v)
	d.root.AddChild(CurrentView, d.current, true)
	d.mu.Unlock()
	if keep {
		d.expire(RWView)
	} else {
		d.retire(RWView, old)
	}
	d.notify(CurrentView)
	res, err := RootHashes(d.store, v.Root)
	res.Version = v
	d.log.Info("rw commit", "seq", v.Seq, "root", hex8(v.Root), "state", hex8(res.StateHash),
		"hash", hashed.Sub(start), "store", stored.Sub(hashed), "bytes", ov.bytes())
	return res, err
}

// RollbackRW drops the session's overlay; the head is unchanged.
func (d *Daemon) RollbackRW() error {
	d.mu.Lock()
	s := d.rw
	if s == nil {
		d.mu.Unlock()
		return ErrNoSession
	}
	s.mu.Lock()
	// A session that changed nothing still is the head: keep its tree like a commit does.
	keep := d.conn != nil && !s.mutated && s.nodes <= maxKeptNodes
	s.end()
	if keep = keep && !s.sc.closed; !keep {
		s.release()
	}
	s.mu.Unlock()
	old := d.endRWLocked()
	if keep {
		d.idle, d.idleNode = s, old
	}
	d.mu.Unlock()
	if keep {
		d.expire(RWView)
	} else {
		d.retire(RWView, old)
	}
	d.log.Info("rw rollback", "base", hex8(s.base))
	return nil
}

func (d *Daemon) endRWLocked() *fs.Inode {
	old := d.rwNode
	d.root.RmChild(RWView)
	d.rw, d.rwNode = nil, nil
	return old
}

// retire tells the kernel a view is gone and lets go-fuse drop its inodes once the kernel forgets.
func (d *Daemon) retire(name string, in *fs.Inode) {
	if in == nil {
		return
	}
	if errno := d.root.NotifyDelete(name, in); errno != 0 && errno != syscall.ENOENT {
		d.log.Debug("notify delete", "name", name, "errno", errno)
	}
	in.ForgetPersistent()
}

// RWOpen reports whether a read-write session is open.
func (d *Daemon) RWOpen() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rw != nil
}

// OpenRO shows the version with the given root (the head if root is nil) at <mount>/<name>. The
// version is pinned until CloseRO. It is O(1) in the number of versions and files.
func (d *Daemon) OpenRO(name string, root *merkle.Hash) (Version, error) {
	if err := merkle.ValidateName(name); err != nil || name == CurrentView || name == RWView {
		return Version{}, fmt.Errorf("%w: %q (reserved or not a valid file name)", ErrBadName, name)
	}
	v, err := d.openRO(name, root)
	if err != nil {
		return Version{}, err
	}
	d.notify(name) // a negative dentry from an earlier lookup of the name must go
	return v, nil
}

func (d *Daemon) openRO(name string, root *merkle.Hash) (Version, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.ro[name]; ok {
		return Version{}, fmt.Errorf("ro open %q: %w", name, ErrNameInUse)
	}
	v := d.store.Head()
	if root != nil {
		var ok bool
		if v, ok = d.store.VersionOf(*root); !ok {
			return Version{}, fmt.Errorf("ro open %q at %s: %w", name, *root, ErrUnknownVersion)
		}
	}
	unpin, err := d.store.Pin(v.Root)
	if err != nil {
		return Version{}, fmt.Errorf("ro open %q: %w", name, err)
	}
	in := d.newROInode(v)
	d.root.AddChild(name, in, true)
	d.ro[name] = &roSession{ver: v, node: in, unpin: unpin}
	return v, nil
}

// CloseRO removes a read-only session and unpins its version.
func (d *Daemon) CloseRO(name string) error {
	d.mu.Lock()
	s, ok := d.ro[name]
	if !ok {
		d.mu.Unlock()
		return fmt.Errorf("ro close %q: %w", name, ErrNoSuchSession)
	}
	delete(d.ro, name)
	d.root.RmChild(name)
	d.mu.Unlock()
	d.retire(name, s.node)
	s.unpin()
	return nil
}

// ROSessions returns the open read-only sessions by name.
func (d *Daemon) ROSessions() map[string]Version {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]Version{}
	for n, s := range d.ro {
		out[n] = s.ver
	}
	return out
}
