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
	var versions, files int
	var countOps bool
	var cpuProfile string
	cmd := &cobra.Command{Use: "bench --dir DIR", Short: "run the filesystem workloads on native, go-fuse loopback and hpfsd; print a table",
		Long: "DIR is scratch space: it is created, filled and removed. Needs FUSE (root or fusermount3).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("bench needs --dir")
			}
			opts := fsbench.Options{Dir: dir, Out: os.Stdout, Versions: versions, Files: files, CountOps: countOps}
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
	cmd.Flags().BoolVar(&countOps, "count-ops", false, "count the FUSE requests of each hpfsd workload (slows that column)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the hpfsd workloads to this file")
	return cmd
}
