package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hpfs/hpnode/cluster"
	"github.com/hpfs/hpnode/nodedir"
)

func statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status DIR",
		Short: "show a node's vote status, lcl, UNL, peers and sync progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l := nodedir.Layout{Root: args[0]}
			s, err := nodedir.ReadStatus(l)
			if err != nil {
				return fmt.Errorf("%w (is the node running? hpnode run %s)", err, args[0])
			}
			_, running := cluster.RunningPID(l)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Running bool `json:"running"`
					nodedir.Status
				}{running, s})
			}
			printStatus(cmd.OutOrStdout(), running, s)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(w io.Writer, running bool, s nodedir.Status) {
	state := "stopped"
	if running {
		state = fmt.Sprintf("running (pid %d)", s.PID)
	}
	fmt.Fprintf(w, "node        %s\nkey         %s (in UNL: %v)\nvote status %s\nlcl         %d-%s\nstate       %s\npatch       %s\nunl         %s\npeers       %d connected\n",
		state, s.PublicKey, s.InUNL, s.VoteStatus, s.LCLSeq, short(s.LCLHash), short(s.StateHash), short(s.PatchHash),
		strings.Join(shortAll(s.UNL), " "), len(s.Peers))
	if p := s.Sync; p != nil {
		fmt.Fprintf(w, "sync        %s %s %.1f%% (%d entries, %d bytes, %.1f MB/s, ETA %.0fs)\n",
			short(p.Target), bar(p.Percent, 30), p.Percent, p.Entries, p.Bytes, p.BytesPerSec/1e6, p.ETASeconds)
	}
}

func bar(percent float64, width int) string {
	n := min(max(int(percent/100*float64(width)), 0), width)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func short(h string) string {
	if len(h) > 8 {
		return h[:8]
	}
	return h
}

func shortAll(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = short(strings.TrimPrefix(k, "ed"))
	}
	return out
}
