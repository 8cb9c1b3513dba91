package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hpfs/hpnode/hpfs/fsbench"
)

func benchCmd() *cobra.Command {
	var dir string
	var versions, files, rounds int
	var countOps bool
	var cpuProfile, fsbenchPy string
	cmd := &cobra.Command{Use: "bench --dir DIR", Short: "run the filesystem workloads on native, go-fuse loopback and hpfsd; print a table",
		Long: "DIR is scratch space: it is created, filled and removed. Needs FUSE (root or fusermount3).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("bench needs --dir")
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find own binary for the workers: %w", err)
			}
			opts := fsbench.Options{Dir: dir, Out: os.Stdout, Versions: versions, Files: files, CountOps: countOps, Rounds: rounds,
				Worker: []string{exe, "bench", "worker"}, FSBench: fsbenchPy}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer f.Close()
				opts.CPUProfile = f
			}
			return fsbench.Run(opts)
		}}
	cmd.Flags().StringVar(&dir, "dir", "", "scratch directory (removed afterwards)")
	cmd.Flags().IntVar(&versions, "versions", 10000, "versions behind the ro-open workload")
	cmd.Flags().IntVar(&files, "files", 100000, "files in the state of the one-change commit workload")
	cmd.Flags().IntVar(&rounds, "rounds", 1, "measure every place this many times, all columns in turn each round, and print each cell's median")
	cmd.Flags().BoolVar(&countOps, "count-ops", false, "count the FUSE requests of each hpfsd workload (slows that column)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the hpfsd workloads (the daemon's side) to this file")
	cmd.Flags().StringVar(&fsbenchPy, "fsbench", "", "also run this fsbench.py (shared/bench/fsbench.py) as the client of every column; prints a second table")
	cmd.AddCommand(benchWorkerCmd())
	return cmd
}

// benchWorkerCmd is the client process of one bench workload: the bench re-executes this binary
// with it so that the workload never shares the daemon's process (as a contract never does).
func benchWorkerCmd() *cobra.Command {
	return &cobra.Command{Use: "worker DIR WORKLOAD", Short: "run one bench workload in DIR and print its JSON result line",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fsbench.Work(args[1], args[0], os.Stdout)
		}}
}
