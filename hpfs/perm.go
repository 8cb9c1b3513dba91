package hpfs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Permissions are checked here, not by the kernel: the mount has no default_permissions. With
// it, kernel 6.18 drops a directory's cached attributes on every create in it and asks for them
// again (a GETATTR round trip per created file) before it can check the caller's write
// permission. The daemon knows every mode without asking, so it checks each request against the
// caller's uid and gid from the request header, as the kernel's generic_permission would:
// root passes every check but executing a file without any x bit; otherwise the owner, group or
// other bits decide. Every object is owned by the daemon's uid and gid (view.uid, view.gid).
//
// What the kernel still does without default_permissions: it checks nothing on cached dentries
// and attributes. So every request that reaches the daemon also checks search permission on each
// directory from the view's root down to the object (see rwNode.allow and roNode.allow): opens,
// listings, creates, removals, renames and attribute changes of a path below a directory the
// caller may not search fail with EACCES as natively, even when the kernel walked the path from
// its cache. Only a stat or readlink answered from the kernel's cache skips the walk.

// Access bits, as in access(2) and the rwx triplets of a mode.
const (
	permR = 4
	permW = 2
	permX = 1
)

// fmodeExec is __FMODE_EXEC: the kernel passes it in the open flags of execve's open.
const fmodeExec = 0x20

// caller is the identity of the process that made a FUSE request.
type caller struct {
	uid, gid, pid uint32
}

// callerOf returns the request's caller. A context without one is the daemon's own call (tests
// and notifications), which is treated as root.
func callerOf(ctx context.Context) caller {
	if c, ok := fuse.FromContext(ctx); ok {
		return caller{uid: c.Uid, gid: c.Gid, pid: c.Pid}
	}
	return caller{}
}

// may reports whether c has every access in want (permR|permW|permX) to an object with
// permission bits mode owned by uid:gid.
func (c caller) may(mode, uid, gid uint32, want uint32, isDir bool) bool {
	if c.uid == 0 {
		// Root may do anything but execute a regular file that has no x bit at all.
		return want&permX == 0 || isDir || mode&0o111 != 0
	}
	if c.uid == uid {
		return (mode>>6)&want == want
	}
	g, o := (mode>>3)&want == want, mode&want == want
	if g == o { // the group question cannot change the answer: skip it
		return o
	}
	if c.inGroup(gid) {
		return g
	}
	return o
}

// inGroup reports whether gid is c's primary group or one of its supplementary groups (read
// from /proc/PID/status: the request header carries only the primary group). A process that is
// gone, or not visible in this pid namespace, counts with its primary group only.
func (c caller) inGroup(gid uint32) bool {
	if c.gid == gid {
		return true
	}
	if c.pid == 0 {
		return false
	}
	status, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(c.pid), 10) + "/status")
	if err != nil {
		return false
	}
	groups, err := parseStatusGroups(status)
	if err != nil {
		return false
	}
	for _, g := range groups {
		if g == gid {
			return true
		}
	}
	return false
}

// maxGroups bounds the supplementary groups read (NGROUPS_MAX is 65536).
const maxGroups = 65536

// parseStatusGroups returns the ids of the "Groups:" line of a /proc/PID/status file.
func parseStatusGroups(status []byte) ([]uint32, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("Groups:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) > maxGroups {
			return nil, fmt.Errorf("status: %d groups, more than %d", len(fields), maxGroups)
		}
		out := make([]uint32, 0, len(fields))
		for _, f := range fields {
			v, err := strconv.ParseUint(string(f), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("status: group %q: %w", f, err)
			}
			out = append(out, uint32(v))
		}
		return out, nil
	}
	return nil, fmt.Errorf("status: no Groups line")
}

// openWant is the access an open with these flags needs (O_TRUNC needs write, as natively).
func openWant(flags uint32) uint32 {
	var want uint32
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		want = permR
	case syscall.O_WRONLY:
		want = permW
	default:
		want = permR | permW
	}
	if flags&syscall.O_TRUNC != 0 {
		want |= permW
	}
	if flags&fmodeExec != 0 {
		want |= permX
	}
	return want
}

// sticky reports whether removing or replacing an entry of a directory with mode dirMode is
// refused by its sticky bit: only the owner of the directory or of the entry, or root, may. Both
// are owned by owner.
func (c caller) sticky(dirMode, owner uint32) bool {
	return dirMode&syscall.S_ISVTX != 0 && c.uid != 0 && c.uid != owner
}

// ownerOrRoot reports whether c may change the mode or set explicit times of an object owned by
// owner.
func (c caller) ownerOrRoot(owner uint32) bool { return c.uid == 0 || c.uid == owner }
