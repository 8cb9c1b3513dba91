package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/hpfs/hpnode/hpfs/fsbench"
)

func benchCmd() *cobra.Command {
	var dir string
	var versions, files int
	cmd := &cobra.Command{Use: "bench --dir DIR", Short: "run the filesystem workloads on native, go-fuse loopback and hpfsd; print a table",
		Long: "DIR is scratch space: it is created, filled and removed. Needs FUSE (root or fusermount3).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("bench needs --dir")
			}
			return fsbench.Run(fsbench.Options{Dir: dir, Out: os.Stdout, Versions: versions, Files: files})
		}}
	cmd.Flags().StringVar(&dir, "dir", "", "scratch directory (removed afterwards)")
	cmd.Flags().IntVar(&versions, "versions", 10000, "versions behind the ro-open workload")
	cmd.Flags().IntVar(&files, "files", 100000, "files in the state of the one-change commit workload")
	return cmd
}
