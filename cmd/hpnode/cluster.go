package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hpfs/hpnode/cluster"
	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/node"
	"github.com/hpfs/hpnode/nodedir"
)

func clusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "manage a local cluster (like HotPocket's hpdevkit)"}
	cmd.AddCommand(clusterCreateCmd(), clusterStartCmd(), clusterStopCmd(), clusterStatusCmd(),
		clusterLogsCmd(), clusterCleanCmd(), clusterSpawnCmd())
	return cmd
}

func clusterCreateCmd() *cobra.Command {
	var opts cluster.CreateOptions
	cmd := &cobra.Command{
		Use:   "create DIR",
		Short: "create N node directories sharing a contract id, each in the others' UNL",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := cluster.Create(args[0], opts)
			if err != nil {
				return err
			}
			for k := 1; k <= len(m.Nodes); k++ {
				nd, _ := m.NodeDir(args[0], k)
				l := nodedir.Layout{Root: nd}
				cfg, err := config.Load(l.HPCfg())
				if err != nil {
					return err
				}
				if err := node.Seed(l, cfg, ""); err != nil {
					return fmt.Errorf("node %d: %w", k, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "node %d  %s  user wss://127.0.0.1:%d  peer 127.0.0.1:%d\n",
					k, cfg.Node.PublicKey, cfg.User.Port, cfg.Mesh.Port)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "contract id %s\n", m.ContractID)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Nodes, "nodes", 3, "number of nodes")
	f.StringVar(&opts.Contract, "contract", "", "contract bundle directory (may hold hp.cfg.override)")
	f.Uint32Var(&opts.RoundTime, "roundtime", 0, "contract.consensus.roundtime in ms (default: hp.cfg's 1000)")
	f.Uint16Var(&opts.FirstUserPort, "user-port", cluster.FirstUserPort, "user port of node 1 (node k: +k-1)")
	f.Uint16Var(&opts.FirstPeerPort, "peer-port", cluster.FirstPeerPort, "peer port of node 1 (node k: +k-1)")
	return cmd
}

func clusterStartCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "start DIR",
		Short: "start every node in the background; returns once all are up",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := startNodes(cmd, args[0], timeout); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "cluster up")
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for every node to be up")
	return cmd
}

func clusterStopCmd() *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "stop DIR",
		Short: "stop every node (SIGTERM, then SIGKILL after the grace period)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return cluster.Stop(args[0], grace)
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 30*time.Second, "time to wait after SIGTERM")
	return cmd
}

func clusterStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status DIR",
		Short: "one line per node: running, vote status, lcl, peers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := cluster.Statuses(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, n := range st {
				if !n.Running {
					fmt.Fprintf(w, "node %d  stopped\n", n.Node)
					continue
				}
				if n.Status == nil {
					fmt.Fprintf(w, "node %d  starting (pid %d)\n", n.Node, n.PID)
					continue
				}
				s := n.Status
				fmt.Fprintf(w, "node %d  pid %d  %-10s lcl %d-%s  state %s  peers %d\n",
					n.Node, n.PID, s.VoteStatus, s.LCLSeq, short(s.LCLHash), short(s.StateHash), len(s.Peers))
			}
			return nil
		},
	}
}

func clusterLogsCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs DIR K",
		Short: "print node K's log (numbered from 1), with the contract's output lines",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("node number %q: %w", args[1], err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return cluster.Logs(ctx, args[0], k, follow, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	return cmd
}

func clusterCleanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "clean DIR",
		Short: "stop the cluster and delete its directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return cluster.Clean(args[0])
		},
	}
}

func clusterSpawnCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "spawn DIR",
		Short: "add and start a blank node that clones the running cluster (knows only node 1's address and key)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := cluster.Spawn(args[0])
			if err != nil {
				return err
			}
			if err := startNodes(cmd, args[0], timeout); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %d spawned and synced; it follows the cluster as an observer until the UNL adds it\n", k)
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the new node to clone the cluster")
	return cmd
}

// startNodes starts every stopped node of the cluster with this hpnode binary and waits, at most
// timeout, until all are up.
func startNodes(cmd *cobra.Command, dir string, timeout time.Duration) error {
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	return cluster.Start(ctx, dir, bin)
}
