// Command hpnode runs a HotPocket-style replicated state machine node and manages local clusters.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "hpnode",
		Short:         "HotPocket-compatible replicated state machine node",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hpnode:", err)
		os.Exit(1)
	}
}
