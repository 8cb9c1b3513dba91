package fsbench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hpfs/hpnode/hpfs"
)

// workerEnv makes this test binary a workload client: `BINARY DIR KEY` runs workload KEY in DIR
// and prints its JSON line (Work), the way `hpfsd bench worker` does for `hpfsd bench`.
const workerEnv = "HPFS_FSBENCH_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" && len(os.Args) == 3 {
		if err := Work(os.Args[2], os.Args[1], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkHpfsdWorkloads runs each workload on hpfsd's rw/state, committing inside the timing
// for the write workloads, and reports its headline number (the workload's own timing; `hpfsd
// bench` prints the full table with the native and loopback baselines). The client is a child
// process, as there: an in-process client's raw system calls (rawsys.go) hold their P while
// they wait for the daemon, and a garbage collection starting then waits for that P forever
// while the daemon, stopped with the world, never answers.
func BenchmarkHpfsdWorkloads(b *testing.B) {
	b.Setenv(workerEnv, "1")
	client := commandRunner([]string{os.Args[0]})
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
					if _, err := client(prep, state); err != nil {
						b.Fatal(err)
					}
					if _, err := d.CommitRW(); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := d.BeginRW(); err != nil {
					b.Fatal(err)
				}
				took, err := client(wl.key, state)
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
