package hpfs

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hpfs/hpnode/merkle"
)

// ovNode is one name's object in an rw session: a directory, regular file or symlink. Nodes are
// created lazily from the base tree on first lookup; untouched subtrees are never loaded.
type ovNode struct {
	ino    uint64
	kind   merkle.Kind
	dead   bool   // unlinked in a session that has ended: its bytes are gone (ESTALE)
	mode   uint32 // permission bits only
	mtime  time.Time
	parent *ovNode // nil for the tree root and for unlinked nodes
	name   string

	// Directories.
	baseDir  merkle.Hash        // the dir node in the base tree; zero for a dir created here
	children map[string]*ovNode // names known to this session (looked up, created, moved in)
	removed  map[string]bool    // base names that no longer exist here
	full     bool               // every base entry has been merged into children
	misses   int                // base lookups so far; many mean a scan, see child
	count    uint64             // number of entries

	// Regular files.
	file    *fileData
	writers int // open writable descriptors (and truncates in progress); see rwpush.go
	pushing int // leaf pushes to the kernel page cache in flight; see rwpush.go

	// Symlinks.
	target    string
	baseLink  merkle.Hash // symlink object in the base tree, read lazily
	targetSet bool
}

func (n *ovNode) isDir() bool { return n.kind == merkle.KindDir }

// scanThreshold is the number of by-name lookups in one directory after which the directory is
// loaded whole.
const scanThreshold = 16

// rwSession is the read-write session: an in-memory overlay over the base version. Every
// operation takes mu; the overlay is the only mutable state, so rollback is dropping it.
type rwSession struct {
	mu       sync.Mutex
	pushDone *sync.Cond       // on mu: a node's pushing dropped to 0
	pushes   *sync.WaitGroup  // the Daemon's group of push goroutines; nil: push inline
	pushBufs sync.Pool        // *[]byte: leaf buffers of push goroutines (leafForPush)
	store    merkle.NodeStore // reads of the base tree
	ls       uint64
	base     merkle.Hash
	baseTime time.Time
	inos     *inoAlloc
	sc       *scratch // dirty leaf bytes
	closed   bool

	root  *ovNode
	ops   []editOp         // tree edits in order, replayed through merkle.Editor at commit
	dirty map[*ovNode]bool // files whose content or size changed
	now   func() time.Time // clock for session-local mtimes

	// What rebase needs to turn the tree into the committed version (see rwkeep.go).
	nodes     int              // nodes in the tree (bounds what a kept tree holds)
	mutated   bool             // anything changed since the session began
	touched   map[*ovNode]bool // directories whose entries changed
	detached  []*ovNode        // nodes unlinked in this session
	committed []committedFile  // the files buildRoot wrote, with their new leaves
}

// inoAlloc hands out inode numbers unique for the life of a mount, across sessions, so the
// kernel never confuses a node of an ended session with a new one.
type inoAlloc struct {
	mu   sync.Mutex
	next uint64
}

func (a *inoAlloc) alloc() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next < 2 {
		a.next = 2
	}
	a.next++
	return a.next
}

// editOp is one recorded tree edit. Paths are tree paths at the time of the edit, which is what
// the Editor sees when the ops are replayed in order.
type editOp struct {
	kind opKind
	path string
	to   string // rename target, symlink target
	mode uint32
}

type opKind uint8

const (
	opMkdir opKind = iota + 1
	opCreate
	opSymlink
	opChmod
	opRemove
	opRename
)

func newRWSession(store merkle.NodeStore, params merkle.Params, base merkle.Hash, baseTime time.Time, inos *inoAlloc, scratchDir string) (*rwSession, error) {
	rootEntry, err := merkle.Lookup(store, base, "")
	if err != nil {
		return nil, err
	}
	sc, err := newScratch(scratchDir, uint64(params.LeafSize))
	if err != nil {
		return nil, err
	}
	s := &rwSession{store: store, ls: uint64(params.LeafSize), base: base, baseTime: baseTime, inos: inos,
		sc: sc, dirty: map[*ovNode]bool{}, touched: map[*ovNode]bool{}, now: time.Now}
	s.pushDone = sync.NewCond(&s.mu)
	s.root = s.nodeFromEntry(rootEntry)
	s.root.name = ""
	return s, nil
}

func (s *rwSession) nodeFromEntry(e merkle.Entry) *ovNode {
	s.nodes++
	n := &ovNode{ino: s.inos.alloc(), kind: e.Kind, mode: e.Mode & 0o7777, mtime: s.baseTime, name: e.Name}
	switch e.Kind {
	case merkle.KindDir:
		n.baseDir, n.count = e.Hash, e.Size
	case merkle.KindFile:
		n.file = newFileData(s.sc, e.Hash, e.Size, int(s.ls))
	case merkle.KindSymlink:
		n.baseLink = e.Hash
	}
	return n
}

// path returns the node's tree path and whether it is still reachable from the root.
func (s *rwSession) path(n *ovNode) (string, bool) {
	var parts []string
	for ; n != s.root; n = n.parent {
		if n == nil {
			return "", false
		}
		parts = append(parts, n.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/"), true
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// child returns the named entry of dir, loading it from the base tree if needed.
func (s *rwSession) child(dir *ovNode, name string) (*ovNode, syscall.Errno) {
	if !dir.isDir() {
		return nil, syscall.ENOTDIR
	}
	if c, ok := dir.children[name]; ok {
		return c, 0
	}
	if dir.full || dir.removed[name] || dir.baseDir == (merkle.Hash{}) {
		return nil, syscall.ENOENT
	}
	if merkle.ValidateName(name) != nil {
		return nil, syscall.ENOENT
	}
	// A directory looked up name after name (stat of every file, a build) is cheaper to load
	// once than to search per name: each search decodes the nodes on its path.
	if dir.misses++; dir.misses > scanThreshold {
		if errno := s.loadAll(dir); errno != 0 {
			return nil, errno
		}
		if c, ok := dir.children[name]; ok {
			return c, 0
		}
		return nil, syscall.ENOENT
	}
	e, err := merkle.LookupChild(s.store, dir.baseDir, name)
	if errors.Is(err, merkle.ErrNotFound) {
		return nil, syscall.ENOENT
	}
	if err != nil {
		return nil, syscall.EIO
	}
	c := s.nodeFromEntry(e)
	s.attach(dir, name, c)
	return c, 0
}

func (s *rwSession) attach(dir *ovNode, name string, c *ovNode) {
	if dir.children == nil {
		dir.children = map[string]*ovNode{}
	}
	dir.children[name] = c
	c.parent, c.name = dir, name
}

// detach removes the name from dir (the node becomes unlinked unless re-attached).
func (s *rwSession) detach(dir *ovNode, name string) {
	c := dir.children[name]
	delete(dir.children, name)
	if dir.baseDir != (merkle.Hash{}) {
		if dir.removed == nil {
			dir.removed = map[string]bool{}
		}
		dir.removed[name] = true
	}
	if c != nil && c.parent == dir && c.name == name {
		c.parent = nil
		s.detached = append(s.detached, c)
	}
	s.touched[dir] = true
	dir.count--
	dir.mtime = s.now()
}

// loadAll merges every base entry of dir into its children (for readdir).
func (s *rwSession) loadAll(dir *ovNode) syscall.Errno {
	if dir.full {
		return 0
	}
	if dir.baseDir != (merkle.Hash{}) {
		entries, err := merkle.ReadDir(s.store, dir.baseDir)
		if err != nil {
			return syscall.EIO
		}
		for _, e := range entries {
			if _, ok := dir.children[e.Name]; ok || dir.removed[e.Name] {
				continue
			}
			s.attach(dir, e.Name, s.nodeFromEntry(e))
		}
	}
	dir.full = true
	return 0
}

// end marks the session closed and drops its scratch data; the tree stays (see rebase). The
// caller holds mu.
func (s *rwSession) end() {
	if s.closed {
		return
	}
	s.closed = true
	if err := s.sc.reset(); err != nil {
		s.sc.close() // a scratch that cannot be emptied is not reused: the tree is not kept
	}
}

// release frees the scratch file for good: the tree will not be reopened. The caller holds mu.
func (s *rwSession) release() { s.sc.close() }

// reopen starts a new session on a kept tree; rebase made it the head version. The caller
// holds mu.
func (s *rwSession) reopen() {
	s.closed = false
}

func (s *rwSession) check() syscall.Errno {
	if s.closed {
		return syscall.ESTALE
	}
	return 0
}

// checkNode is check for an operation on n: a node unlinked in an earlier session has lost
// its bytes with that session.
func (s *rwSession) checkNode(n *ovNode) syscall.Errno {
	if s.closed {
		return syscall.ESTALE
	}
	for ; n != nil; n = n.parent { // dead nodes are detached: the walk ends at one
		if n.dead {
			return syscall.ESTALE
		}
	}
	return 0
}

// checkNewName validates a name to be created in dir: EINVAL for names the tree rejects, EPERM
// for anything but patch.cfg at the tree root (the root holds exactly state/ and patch.cfg).
func (s *rwSession) checkNewName(dir *ovNode, name string, kind merkle.Kind) syscall.Errno {
	if merkle.ValidateName(name) != nil {
		return syscall.EINVAL
	}
	if dir == s.root && (name != PatchFile || kind != merkle.KindFile) {
		return syscall.EPERM
	}
	return 0
}

func (s *rwSession) record(op editOp) {
	s.ops = append(s.ops, op)
	s.mutated = true
}

// addNew attaches a new node under dir and records its creation.
func (s *rwSession) addNew(dir *ovNode, name string, n *ovNode, op editOp) syscall.Errno {
	if errno := s.checkNewName(dir, name, n.kind); errno != 0 {
		return errno
	}
	if _, errno := s.child(dir, name); errno == 0 {
		return syscall.EEXIST
	} else if errno != syscall.ENOENT {
		return errno
	}
	dirPath, ok := s.path(dir)
	if !ok {
		return syscall.ENOENT
	}
	op.path = joinPath(dirPath, name)
	s.attach(dir, name, n)
	s.nodes++
	s.touched[dir] = true
	dir.count++
	dir.mtime = n.mtime
	s.record(op)
	return 0
}

func (s *rwSession) mkdir(dir *ovNode, name string, mode uint32) (*ovNode, syscall.Errno) {
	n := &ovNode{ino: s.inos.alloc(), kind: merkle.KindDir, mode: mode & 0o7777, mtime: s.now(), full: true}
	if errno := s.addNew(dir, name, n, editOp{kind: opMkdir, mode: n.mode}); errno != 0 {
		return nil, errno
	}
	return n, 0
}

func (s *rwSession) create(dir *ovNode, name string, mode uint32) (*ovNode, syscall.Errno) {
	n := &ovNode{ino: s.inos.alloc(), kind: merkle.KindFile, mode: mode & 0o7777, mtime: s.now(), file: newEmptyFile(s.sc)}
	if errno := s.addNew(dir, name, n, editOp{kind: opCreate, mode: n.mode}); errno != 0 {
		return nil, errno
	}
	return n, 0
}

func (s *rwSession) symlink(dir *ovNode, name, target string) (*ovNode, syscall.Errno) {
	if target == "" || strings.IndexByte(target, 0) >= 0 {
		return nil, syscall.EINVAL
	}
	n := &ovNode{ino: s.inos.alloc(), kind: merkle.KindSymlink, mode: 0o777, mtime: s.now(), target: target, targetSet: true}
	if errno := s.addNew(dir, name, n, editOp{kind: opSymlink, to: target}); errno != 0 {
		return nil, errno
	}
	return n, 0
}

func (s *rwSession) readlink(n *ovNode) (string, syscall.Errno) {
	if n.kind != merkle.KindSymlink {
		return "", syscall.EINVAL
	}
	if !n.targetSet {
		t, err := readSymlink(s.store, n.baseLink)
		if err != nil {
			return "", syscall.EIO
		}
		n.target, n.targetSet = t, true
	}
	return n.target, 0
}

// remove unlinks name from dir; wantDir selects rmdir semantics.
func (s *rwSession) remove(dir *ovNode, name string, wantDir bool) syscall.Errno {
	c, errno := s.child(dir, name)
	if errno != 0 {
		return errno
	}
	if dir == s.root && name == StateDir {
		return syscall.EPERM
	}
	if wantDir != c.isDir() {
		if wantDir {
			return syscall.ENOTDIR
		}
		return syscall.EISDIR
	}
	if wantDir {
		if c.count > 0 {
			return syscall.ENOTEMPTY
		}
	}
	p, ok := s.path(c)
	if !ok {
		return syscall.ENOENT
	}
	s.detach(dir, name)
	s.record(editOp{kind: opRemove, path: p})
	return 0
}

// Rename flags of renameat2(2).
const (
	renameNoReplace = 1
	renameExchange  = 2
)

func (s *rwSession) rename(dir *ovNode, name string, newDir *ovNode, newName string, flags uint32) syscall.Errno {
	if flags&^(renameNoReplace|renameExchange) != 0 || flags == renameNoReplace|renameExchange {
		return syscall.EINVAL
	}
	src, errno := s.child(dir, name)
	if errno != 0 {
		return errno
	}
	if (dir == s.root && name == StateDir) || (newDir == s.root && newName == StateDir) {
		return syscall.EPERM
	}
	if errno := s.checkNewName(newDir, newName, src.kind); errno != 0 {
		return errno
	}
	// A directory cannot move into its own subtree.
	for p := newDir; p != nil; p = p.parent {
		if p == src {
			return syscall.EINVAL
		}
	}
	dst, errno := s.child(newDir, newName)
	if errno != 0 && errno != syscall.ENOENT {
		return errno
	}
	from, ok1 := s.path(src)
	toDir, ok2 := s.path(newDir)
	if !ok1 || !ok2 {
		return syscall.ENOENT
	}
	to := joinPath(toDir, newName)
	if src == dst {
		return 0
	}
	if flags&renameExchange != 0 {
		if dst == nil {
			return syscall.ENOENT
		}
		if dir == s.root && dst.kind != merkle.KindFile {
			return syscall.EPERM
		}
		return s.exchange(dir, name, src, newDir, newName, dst, from, to)
	}
	if dst != nil {
		if flags&renameNoReplace != 0 {
			return syscall.EEXIST
		}
		if src.isDir() && !dst.isDir() {
			return syscall.ENOTDIR
		}
		if !src.isDir() && dst.isDir() {
			return syscall.EISDIR
		}
		if dst.isDir() && dst.count > 0 {
			return syscall.ENOTEMPTY
		}
		s.detach(newDir, newName)
		newDir.count++ // re-added below
	} else {
		newDir.count++
	}
	s.detach(dir, name)
	s.attach(newDir, newName, src)
	s.touched[newDir] = true
	newDir.mtime = s.now()
	s.record(editOp{kind: opRename, path: from, to: to})
	return 0
}

// exchange swaps two names atomically (RENAME_EXCHANGE). The Editor has no exchange, so the op
// log uses three renames through a name that exists in neither directory.
func (s *rwSession) exchange(dir *ovNode, name string, a *ovNode, newDir *ovNode, newName string, b *ovNode, from, to string) syscall.Errno {
	if errno := s.loadAll(dir); errno != 0 {
		return errno
	}
	tmpName := ""
	for i := 0; ; i++ {
		tmpName = ".hpfs-exchange-" + itoa(uint64(i))
		if _, ok := dir.children[tmpName]; !ok {
			break
		}
	}
	dirPath, _ := s.path(dir)
	tmp := joinPath(dirPath, tmpName)
	delete(dir.children, name)
	delete(newDir.children, newName)
	s.attach(dir, name, b)
	s.attach(newDir, newName, a)
	now := s.now()
	dir.mtime, newDir.mtime = now, now
	s.touched[dir], s.touched[newDir] = true, true
	s.record(editOp{kind: opRename, path: from, to: tmp})
	s.record(editOp{kind: opRename, path: to, to: from})
	s.record(editOp{kind: opRename, path: tmp, to: to})
	return 0
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

func (s *rwSession) chmod(n *ovNode, mode uint32) syscall.Errno {
	if n.kind == merkle.KindSymlink {
		return 0 // Linux ignores symlink modes; so does the tree (always 0777)
	}
	p, ok := s.path(n)
	if !ok {
		n.mode = mode & 0o7777 // an unlinked but open file: nothing to record
		return 0
	}
	n.mode = mode & 0o7777
	if n.parent != nil {
		s.touched[n.parent] = true
	}
	s.record(editOp{kind: opChmod, path: p, mode: n.mode})
	return 0
}

func (s *rwSession) truncate(n *ovNode, size uint64) syscall.Errno {
	if n.kind != merkle.KindFile {
		return syscall.EISDIR
	}
	if err := n.file.setSize(s.store, size, s.ls); err != nil {
		return toErrno(err)
	}
	s.dirty[n] = true
	s.mutated = true
	n.mtime = s.now()
	return 0
}

func (s *rwSession) write(n *ovNode, data []byte, off int64) (uint32, syscall.Errno) {
	if n.kind != merkle.KindFile {
		return 0, syscall.EISDIR
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if err := n.file.write(s.store, data, uint64(off), s.ls); err != nil {
		return 0, toErrno(err)
	}
	s.dirty[n] = true
	s.mutated = true
	n.mtime = s.now()
	return uint32(len(data)), 0
}

func (s *rwSession) read(n *ovNode, dest []byte, off int64) (int, syscall.Errno) {
	if n.kind != merkle.KindFile {
		return 0, syscall.EISDIR
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	c, err := n.file.read(s.store, dest, uint64(off), s.ls)
	if err != nil {
		return 0, toErrno(err)
	}
	return c, 0
}

// size returns the st_size of a node.
func (s *rwSession) size(n *ovNode) uint64 {
	switch n.kind {
	case merkle.KindFile:
		return n.file.size
	case merkle.KindDir:
		return n.count
	}
	if t, errno := s.readlink(n); errno == 0 {
		return uint64(len(t))
	}
	return 0
}

func toErrno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}
