package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hpfs/hpnode/node"
	"github.com/hpfs/hpnode/nodedir"
)

func newCmd() *cobra.Command {
	var opts nodedir.CreateOptions
	var hpfsd string
	cmd := &cobra.Command{
		Use:   "new DIR",
		Short: "create a node directory: hp.cfg, node key, TLS pair, contract bundle",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := nodedir.Create(args[0], opts)
			if err != nil {
				return err
			}
			if err := node.Seed(nodedir.Layout{Root: args[0]}, cfg, hpfsd); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s\n  public key  %s\n  contract id %s\n  user port   %d\n  peer port   %d\n",
				args[0], cfg.Node.PublicKey, cfg.Contract.ID, cfg.User.Port, cfg.Mesh.Port)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.ContractID, "contract-id", "", "contract id (default: a new random UUID)")
	f.StringSliceVar(&opts.UNL, "unl", nil, "UNL node public keys, comma separated (default: this node)")
	f.StringSliceVar(&opts.Peers, "peers", nil, "known peers HOST:PORT, comma separated")
	f.Uint16Var(&opts.UserPort, "user-port", 0, "user (wss) port (default 8080)")
	f.Uint16Var(&opts.PeerPort, "peer-port", 0, "peer (QUIC) port (default 22860)")
	f.StringVar(&hpfsd, "hpfsd", "", "hpfsd binary (default: beside hpnode, else on PATH)")
	f.StringVar(&opts.Contract, "contract", "", "contract bundle directory to seed the state from (may hold hp.cfg.override)")
	return cmd
}
