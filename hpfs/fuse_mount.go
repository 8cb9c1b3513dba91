package hpfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// fuseConn is the daemon's own descriptor of its FUSE connection, for the one notification
// go-fuse has no API for: expiring a dentry without dropping the dentries below it
// (FUSE_NOTIFY_INVAL_ENTRY with FUSE_EXPIRE_ONLY, kernel 6.2+). The rw view uses it to leave
// and re-enter the mount root between sessions while the kernel keeps the names, attributes
// and page cache of everything under it (see Daemon.CommitRW).
type fuseConn struct {
	fd int // a dup of the /dev/fuse descriptor go-fuse serves; closed by close
}

// FUSE wire constants (include/uapi/linux/fuse.h).
const (
	fuseNotifyInvalEntry = 3
	fuseExpireOnly       = 1
	fuseRootID           = 1
)

// mountOwnFd mounts root at dir with mount(2) on a /dev/fuse descriptor the daemon opened
// itself and hands it to go-fuse (its /dev/fd/N form), so the daemon can write notifications
// go-fuse does not offer. It needs CAP_SYS_ADMIN and a kernel that offers expire-only
// invalidation; ok is false (and nothing is mounted) when either is missing, and the caller
// then mounts the usual way.
func mountOwnFd(dir string, root fs.InodeEmbedder, opts *fs.Options) (srv *fuse.Server, conn *fuseConn, ok bool, err error) {
	if os.Geteuid() != 0 {
		return nil, nil, false, nil
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, false, nil
	}
	mo := &opts.MountOptions
	args := []string{
		fmt.Sprintf("fd=%d", fd),
		"rootmode=40000",
		fmt.Sprintf("user_id=%d", os.Geteuid()),
		fmt.Sprintf("group_id=%d", os.Getegid()),
		fmt.Sprintf("max_read=%d", mo.MaxWrite),
	}
	if mo.AllowOther {
		args = append(args, "allow_other")
	}
	args = append(args, mo.Options...)
	if err := unix.Mount(mo.FsName, dir, "fuse."+mo.Name, unix.MS_NOSUID|unix.MS_NODEV, strings.Join(args, ",")); err != nil {
		unix.Close(fd)
		return nil, nil, false, nil
	}
	nfd, err := unix.Dup(fd)
	if err != nil {
		unix.Close(fd)
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return nil, nil, false, fmt.Errorf("dup fuse fd: %w", err)
	}
	unix.CloseOnExec(nfd)
	// go-fuse owns fd from here (it closes it when serving ends).
	srv, err = fs.Mount(fmt.Sprintf("/dev/fd/%d", fd), root, opts)
	if err != nil {
		unix.Close(nfd)
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return nil, nil, false, fmt.Errorf("serve %s: %w", dir, err)
	}
	if err := pollHack(dir); err != nil {
		unix.Close(nfd)
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return nil, nil, false, fmt.Errorf("serve %s: %w", dir, err)
	}
	conn = &fuseConn{fd: nfd}
	if srv.KernelSettings().Flags64()&fuse.CAP_HAS_EXPIRE_ONLY == 0 {
		// Serving works, but the daemon cannot keep the rw tree's dentries: behave as a
		// plain mount (the caller's fallback path keeps everything correct without it).
		conn.close()
		conn = nil
	}
	return srv, conn, true, nil
}

// expireEntry marks the kernel's dentry of name in the mount root as expired, so its next use
// asks the daemon again, without dropping the dentries cached below it: if the name then
// resolves to the same node, everything under it stays cached; if not, the kernel drops it and
// its subtree itself. A name the kernel does not hold is not an error.
func (c *fuseConn) expireEntry(name string) error {
	msg := make([]byte, 16+16+len(name)+1)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.LittleEndian.PutUint32(msg[4:], fuseNotifyInvalEntry)
	// unique (msg[8:16]) is 0 for notifications.
	binary.LittleEndian.PutUint64(msg[16:], fuseRootID)
	binary.LittleEndian.PutUint32(msg[24:], uint32(len(name)))
	binary.LittleEndian.PutUint32(msg[28:], fuseExpireOnly)
	copy(msg[32:], name)
	_, err := unix.Write(c.fd, msg)
	if err == nil || errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return fmt.Errorf("expire entry %q: %w", name, err)
}

func (c *fuseConn) close() {
	if c != nil {
		unix.Close(c.fd)
	}
}

// pollHack does what go-fuse's WaitMount does for mounts it made itself and skips for /dev/fd/N:
// it makes the kernel send its first POLL now, on go-fuse's special name, so the kernel learns
// that this filesystem does not poll. Otherwise the Go runtime's first epoll_ctl on a file of
// the mount, from this very process, sends POLL while holding the runtime's epoll lock, and the
// process deadlocks against its own daemon.
func pollHack(dir string) error {
	fd, err := unix.Open(dir+"/.go-fuse-epoll-hack", unix.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("poll probe: %w", err)
	}
	defer unix.Close(fd)
	_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLPRI | unix.POLLOUT}}, 0)
	return nil
}
