package fsbench

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hpfs/hpnode/hpfs"
)

// BenchmarkHpfsdWorkloads runs each workload on hpfsd's rw/state, committing inside the timing
// for the write workloads, and reports its headline number (the workload's own timing: the
// client runs in this process here, unlike `hpfsd bench`, which prints the full table with the
// native and loopback baselines and runs each client in a child process).
func BenchmarkHpfsdWorkloads(b *testing.B) {
	for _, wl := range goWorkloads {
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
				prep := map[string]string{"stat2000": "create2000", "stat20000": "create20000", "read4k": "rand5"}[wl.key]
				if prep != "" {
					if _, err := d.BeginRW(); err != nil {
						b.Fatal(err)
					}
					if _, err := inProcess(prep, state); err != nil {
						b.Fatal(err)
					}
					if _, err := d.CommitRW(); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := d.BeginRW(); err != nil {
					b.Fatal(err)
				}
				took, err := inProcess(wl.key, state)
				if err != nil {
					b.Fatal(err)
				}
				if wl.commit {
					start := time.Now()
					if _, err := d.CommitRW(); err != nil {
						b.Fatal(err)
					}
					took += time.Since(start)
				}
				res := wl.value(took)
				b.ReportMetric(res.Value, res.Unit)
				d.Close()
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
	}
}
