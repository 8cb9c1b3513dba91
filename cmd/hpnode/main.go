// Command hpnode runs a HotPocket-style replicated state machine node and manages local clusters.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is the hpnode release; the user protocol reports config.Version as hp_version.
const version = "0.1.0"

func main() {
	root := &cobra.Command{
		Use:           "hpnode",
		Short:         "HotPocket-compatible replicated state machine node",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newCmd(), runCmd(), statusCmd(), clusterCmd(), versionCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hpnode:", err)
		os.Exit(1)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the hpnode version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "hpnode %s (HotPocket protocol %s)\n", version, "0.6.x")
		},
	}
}
