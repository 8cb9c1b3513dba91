// Command hpfsd serves the versioned state filesystem of one store over FUSE and a control socket.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "hpfsd",
		Short:         "versioned, crash-safe state filesystem daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hpfsd:", err)
		os.Exit(1)
	}
}
