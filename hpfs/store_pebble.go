package hpfs

import (
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Leaves are the bulk of the store's bytes (a 64 KiB leaf per 64 KiB of file) and their keys are
// content hashes, so every flush overlaps every sstable below it and compactions would rewrite
// each leaf several times on its way down the LSM: a 1 GiB sync spent about a fifth of its CPU
// in compactions. With value separation a value of blobMinSize bytes or more is written once, to
// a blob file at flush, and compactions move only its key and a handle.
const (
	// blobMinSize is the smallest value kept in a blob file: leaves of 4 KiB and more. Smaller
	// values (nodes, refcounts, small files' leaves) stay inline, where a point read needs no
	// second file.
	blobMinSize = 4 << 10
	// blobMaxRefDepth bounds how many overlapping blob files an sstable may reference before a
	// compaction rewrites values (pebble's knob for read amplification). Leaf keys are random,
	// so every flush's blob file overlaps all the others and the depth grows by one per flush:
	// at a depth of 10, compactions would go back to rewriting leaves after about
	// ten memtables (~640 MiB) of a sync. A point read still opens one blob file per value.
	blobMaxRefDepth = 64
	// blobGarbageRatio: a blob file is rewritten once this share of it is garbage (leaves of
	// versions dropped beyond Keep), bounding space amplification.
	blobGarbageRatio = 0.2
	// blobRewriteAge: younger blob files are never rewritten; most garbage comes from versions
	// dropped within seconds of each other.
	blobRewriteAge = 10 * time.Minute
)

// l0FileSize is the target size of a flushed sstable (and of its blob file). At pebble's 2 MiB
// default a 64 MiB memtable of leaves flushed into dozens of small files, and a 1 GiB sync
// created hundreds (creating a file costs a journaled metadata update on ext4).
const l0FileSize = 64 << 20

// memTableSize is pebble's memtable size: a batch of half of it or more is kept as a memtable
// of its own (batchpool.go relies on that threshold).
const memTableSize = 64 << 20

// pebbleOptions are the options of the store's pebble DB. FormatValueSeparation ratchets an
// older store's format on open (it cannot be opened by a pebble older than v2.1 afterwards).
func pebbleOptions(log *slog.Logger) *pebble.Options {
	o := &pebble.Options{
		Logger:             quietLogger{log},
		MemTableSize:       memTableSize,
		FormatMajorVersion: pebble.FormatValueSeparation,
		FS:                 dropBehindFS{vfs.Default},
	}
	o.TargetFileSizes[0] = l0FileSize
	o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           blobMinSize,
			MaxBlobReferenceDepth: blobMaxRefDepth,
			RewriteMinimumAge:     blobRewriteAge,
			TargetGarbageRatio:    blobGarbageRatio,
		}
	}
	return o
}
