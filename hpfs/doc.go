// Package hpfs is the versioned, crash-safe state filesystem: the FUSE tree served under a mount
// directory, its read-write and read-only sessions, and the pebble store of versions behind it.
//
// It relies on merkle for every hash, tree edit and proof, on go-fuse v2 (fs package) for the
// mount, and on pebble for durability. It owns the store directory exclusively (an flock on
// <store>/hpfsd.lock; a second daemon fails with ErrLocked); nothing else may open it. It knows
// nothing of consensus, peers or contracts, and it never writes a version that is not a complete
// tree reachable from its root.
//
// # Store
//
// One pebble DB under <store>/db holds content-addressed nodes and leaves (merkle's NodeStore),
// a refcount per object, and the version list (seq, root, time); the head is the newest version.
// A leaf that is at least half zeros is stored as its non-zero runs (leafcodec.go), so sparse
// files cost their data on disk and in the commit's synced write, not their size; hashes are
// always of the decoded bytes, and proofs and exports carry decoded leaves. Values of 4 KiB and
// more (leaves) live in pebble blob files (value separation, store_pebble.go), so compactions move
// keys and handles, not leaf bytes, and flushes write 64 MiB files (a 1 GiB sync makes tens of
// files, not hundreds). WAL and blob files are written back and dropped from the page cache a
// chunk behind their writer (store_dropbehind.go): on VMs that hand freed memory back to the
// host, fresh page-cache pages cost a host fault each.
// A commit is one pebble batch written with Sync: the new objects, their refcounts, the version
// record and the refcount drops of versions that fall out of the window (the last Keep, default
// 16, plus any pinned by an open read-only session). A crash before the batch is durable leaves
// the previous head; after it, the new one; never a mix. Objects written through Store.PutNode
// (import) are staged under their own prefix and become part of the store only when a committed
// version reaches them; staged objects are discarded at start. Objects a proof sync writes go to
// their final keys with a journal key beside them (sync_store.go); the commit at Done gives them
// refcounts, and every journaled object still unreferenced is swept at the next sync begin, abort
// or commit.
//
// # Sessions and views
//
// <mount>/current/ is the head version, read-only, replaced by fresh inodes on every commit (a
// process inside the old one keeps reading its version). <mount>/rw/ exists while the read-write
// session is open; <mount>/NAME/ for each read-only session (pinned, opened in O(1): it is a
// root hash). Each view holds state/ and patch.cfg. Writes to read-only views get EROFS.
//
// The rw session is an overlay over the head: nodes are loaded lazily by name and kept in memory,
// writes mark leaves dirty (leaf size 64 KiB, merkle.DefaultParams) and land in one slot per
// dirty leaf: in memory, as the list of writes made to it, while they are at most 16 writes and
// 16 KiB (64 MiB per session, counted as taken from the session's arena: bytes of a deleted
// file's writes come back only when the session ends), then in the leaf's own place in an
// unlinked scratch file under the store directory (preallocated 64 MiB ahead, so writes skip
// the filesystem's delayed-allocation bookkeeping; each session that spilled gets a fresh file
// and the old one is freed in the background, off the commit's path). The in-memory writes are copied into arena
// chunks (4 MiB anonymous mappings, huge pages where allowed, faulted in with one call) that the
// kept tree reuses session after session and unmaps when it is dropped (rwarena.go), so a small
// write costs no page fault. A small file or a 5-byte write into a hole thus costs no system call,
// and commit assembles that leaf from its writes and zeros. Tree edits (mkdir, create,
// symlink, chmod, remove, rename) are recorded in order. Commit maps the scratch file and hashes
// and stores spilled leaves straight from the mapping. Commit replays the
// edits through merkle.Editor, hashes only the dirty leaves in parallel across cores, writes the
// changed files' leaf lists, and stores the result in one synced batch; the session then ends.
// A spilled leaf that a write fills to its end is hashed in the background while the session
// writes on, and the commit takes that hash if the leaf has not changed since (rwprehash.go):
// after a file written front to back, the commit hashes almost nothing.
// Rollback drops the overlay. The session is not durable by design: a crash before commit
// returns to the last committed version.
//
// After a commit the session's tree is the new head, so the daemon keeps it (rebased: written
// files read their new leaves from the store, changed directories search the new version) with
// its inode numbers, and the next `rw begin` on that head reopens it. rw/ leaves the mount root
// between sessions through an expire-only entry notification, which keeps the kernel's dentries,
// attributes and page cache below it: a name the kernel looked up in one session is not looked
// up again in the next. Rollback of a session that changed nothing keeps the tree too; any other
// rollback, and a head moved by sync, drop it and every kernel entry under rw/. Nodes unlinked in
// an ended session are dead (ESTALE), like everything in a session that ended. The expire-only
// notification needs the daemon's own /dev/fuse descriptor (mounted directly, as root, kernel
// 6.2+); without it every session starts from a fresh tree as before. Between sessions the
// kernel may still answer a process whose cwd is inside rw/ from its cache: it sees the committed
// content; anything that reaches the daemon gets ESTALE.
//
// # POSIX choices
//
//   - fsync and fdatasync in an rw session succeed once the data is in the session (every write
//     reaches the daemon before it returns; there is no writeback cache) and fail with ESTALE
//     once the session has ended. They do not make data survive a crash: only `hpfsd rw commit`
//     does, and a commit's data is synced before it returns. close(2) has nothing to report (the
//     daemon answers FLUSH with ENOSYS once, and the kernel stops sending it: a round trip less
//     per close).
//   - Timestamps are not part of the hashed state (they differ per node). In an rw session mtime
//     follows writes and utimens and stays with the kept tree across commits; an entry first
//     loaded from a version reports that version's commit time, as does every entry of a
//     read-only view.
//   - chown is EPERM (the tree has no owners); hard links are EPERM; mknod of anything but a
//     regular file is EPERM; xattrs are disabled at mount, so the kernel answers ENOTSUP;
//     fallocate beyond mode 0 is EOPNOTSUPP; rename supports RENAME_NOREPLACE and
//     RENAME_EXCHANGE, other flags get EINVAL; names the tree rejects get EINVAL.
//   - The tree root of a view holds only state/ (which cannot be removed or renamed) and the
//     regular file patch.cfg; creating anything else there is EPERM.
//   - Read-only views and rw files keep the kernel page cache across opens (content only changes
//     through the mount or not at all); entry, attribute and negative caches last one minute.
//     Read-only views are replaced, not mutated, on commit; the rw tree is kept across a commit
//     (it is the new version) and dropped with every kernel entry under rw/ on a rollback that
//     changed anything (see Sessions and views).
//   - A read of an rw leaf unchanged in the session also stores the clean leaves of its aligned
//     256 KiB window in the kernel page cache (FUSE_NOTIFY_STORE, after the reply): the kernel
//     does no readahead for random reads (a database's page reads). It happens only while no
//     descriptor of the file is open for writing; a writable open or a truncate first waits for
//     the pushes in flight, so a stored page is never older than the file (rwpush.go).
//   - Opens in read-only views use kernel passthrough: the file is materialized once, by file
//     hash, under <store>/cache (scratch, bounded to 1 GiB, emptied at start) and the kernel
//     reads that fd directly. Opens in the rw session never use passthrough: the daemon must
//     see every write to know which leaves are dirty, and the kernel cannot mix passthrough and
//     cached opens of one inode.
//   - No writeback cache: it would hide writes from the daemon until the kernel flushes them
//     (a commit could miss data) and it disables passthrough.
//   - A directory searched name by name more than 16 times is loaded whole (stat of every file
//     would otherwise decode the directory's nodes once per name).
//   - st_size of a directory is its number of entries (what the tree commits to); st_blksize is
//     4096; owner is the daemon's user; allow_other is set when running as root so contracts
//     may run as another user.
//   - No default_permissions: the daemon checks each request against the caller's uid/gid as the
//     kernel's own check would (perm*.go: ancestors' search bits, sticky bit, owner-only chmod and
//     utimens, Access, Opendir), because with default_permissions kernel 6.18 asks for the parent
//     directory's attributes again on every create (one request in five). The cost: a stat or
//     readlink the kernel answers from its cache skips the check of the directories above the
//     file, so a user may stat a file in a directory it cannot search; opens, listings and every
//     change are checked.
//
// # Sync
//
// range-proof and change-proof serve merkle proofs of kept versions (binary, base64 in JSON;
// raw bytes in the binary frames of proto_*.go). apply-proof verifies a proof against the target
// root (and, for change proofs, the base root) before anything is stored, writes its objects in
// one batch (applies may run concurrently), and when the merkle.Syncer is Done commits the target
// as a new version (current/ then shows it). sync.begin may start from the head, so a store that
// holds an older version fetches only change proofs. A sync is refused while an rw session is
// open; sync.abort drops it. A sync does not survive a restart: it starts over, and the next
// sync.begin sweeps the dead one's journaled objects.
//
// # Control
//
// A unix socket (default <store>/hpfsd.sock) takes one JSON Request per connection and answers
// one Response (see control.go); cmd/hpfsd wraps every operation as a subcommand. A connection
// that opens with the binary preamble instead carries length-prefixed proof frames back to back
// (proto_frame.go): the state sync's path, without JSON and base64. In binary mode a proof is
// written as writev pieces that alias its leaves, which a connection reads ahead into a leaf
// arena it reuses from proof to proof; the statesync server encodes its response around a proof
// read with ProtoClient.RangeProofIn/ChangeProofIn, so proof bytes are not copied again. A binary
// connection may also ask for a memfd region shared with the daemon (op share, proto_shared.go;
// the descriptor comes with the reply as SCM_RIGHTS): proofs are then built into it, and an
// apply-proof names a proof lying in it, so proof bytes do not cross the socket at all. The
// daemon verifies such a proof where it lies, and stores only what it verified there; only its
// client can write to the region, blocked in that call. ProtoClient.Lease hands one connection
// and its region to one caller; a daemon without op share gives leases without a region.
package hpfs
