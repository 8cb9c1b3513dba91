// Command hpfsd serves the versioned state filesystem of one store over FUSE and a control socket.
//
// Every subcommand but serve, import, export and bench talks to a running daemon over its unix
// socket (--socket, or <--store>/hpfsd.sock) and prints a human result, or JSON with --json.
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
	root.AddCommand(serveCmd(), rwCmd(), roCmd(), hashCmd(), lsCmd(), versionsCmd(), diffCmd(),
		statusCmd(), importCmd(), exportCmd(), benchCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hpfsd:", err)
		os.Exit(1)
	}
}
