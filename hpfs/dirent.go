package hpfs

import (
	"sort"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// sortDirEntries orders a listing by name so readdir output is deterministic.
func sortDirEntries(es []fuse.DirEntry) {
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
}
