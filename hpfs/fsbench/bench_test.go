package fsbench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hpfs/hpnode/hpfs"
)

// BenchmarkHpfsdWorkloads runs each workload on hpfsd's rw/state, committing inside the timing
// for the write workloads, and reports its headline number; `hpfsd bench` prints the full table
// with the native and loopback baselines.
func BenchmarkHpfsdWorkloads(b *testing.B) {
	for _, wl := range workloads {
		b.Run(wl.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				d, err := hpfs.StartDaemon(hpfs.DaemonOptions{
					Store:    hpfs.StoreOptions{Dir: filepath.Join(dir, "store")},
					MountDir: filepath.Join(dir, "mnt"),
				})
				if err != nil {
					b.Fatal(err)
				}
				state := filepath.Join(d.MountDir(), hpfs.RWView, hpfs.StateDir)
				// Workloads that read need the files the writers leave behind.
				prep := map[string][]workload{"stat 2000": {workloads[2]}, "stat 20000": {workloads[3]}, "read4k": {workloads[1]}}[wl.name]
				for _, p := range prep {
					if _, err := d.BeginRW(); err != nil {
						b.Fatal(err)
					}
					if _, err := p.run(state, func() error { _, err := d.CommitRW(); return err }); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := d.BeginRW(); err != nil {
					b.Fatal(err)
				}
				after := nothing
				if wl.commit {
					after = func() error { _, err := d.CommitRW(); return err }
				}
				b.StartTimer()
				res, err := wl.run(state, after)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.Value, res.Unit)
				d.Close()
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
	}
}
