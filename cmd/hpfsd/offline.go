package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
)

func hashDir(dir string, asJSON bool) error {
	root, err := hpfs.HashDir(dir, merkle.DefaultParams())
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]string{"root": root.String()})
	}
	fmt.Println(root)
	return nil
}

func importCmd() *cobra.Command {
	var store, patch string
	var asJSON bool
	cmd := &cobra.Command{Use: "import --store DIR SRC", Short: "make SRC the state/ of a new version (daemon must be stopped)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if store == "" {
				return errors.New("import needs --store")
			}
			st, err := hpfs.OpenStore(hpfs.StoreOptions{Dir: store, Keep: offlineKeep})
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := hpfs.Import(st, args[0], patch)
			if err != nil {
				return err
			}
			rh, err := hpfs.RootHashes(st, v.Root)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(hpfs.CommitInfo{Root: v.Root.String(),
					StateHash: rh.StateHash.String(), PatchHash: rh.PatchHash.String(),
					Version: hpfs.VersionInfo{Seq: v.Seq, Root: v.Root.String(), Time: v.Time}})
			}
			fmt.Printf("root       %s\nstate      %s\npatch.cfg  %s\nversion    %d\n", v.Root, rh.StateHash, rh.PatchHash, v.Seq)
			return st.Close()
		}}
	cmd.Flags().StringVar(&store, "store", "", "store directory")
	cmd.Flags().StringVar(&patch, "patch-cfg", "", "also set patch.cfg from this file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func exportCmd() *cobra.Command {
	var store, version string
	cmd := &cobra.Command{Use: "export --store DIR --version ROOT DEST", Short: "copy a kept version out to DEST (daemon must be stopped)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if store == "" || version == "" {
				return errors.New("export needs --store and --version")
			}
			root, err := merkle.ParseHash(version)
			if err != nil {
				return err
			}
			st, err := hpfs.OpenStore(hpfs.StoreOptions{Dir: store, Keep: offlineKeep})
			if err != nil {
				return err
			}
			defer st.Close()
			if !st.HasVersion(root) {
				return fmt.Errorf("version %s: %w", root, hpfs.ErrUnknownVersion)
			}
			if err := hpfs.Export(st, root, args[0]); err != nil {
				return err
			}
			fmt.Printf("exported %s to %s\n", root, args[0])
			return st.Close()
		}}
	cmd.Flags().StringVar(&store, "store", "", "store directory")
	cmd.Flags().StringVar(&version, "version", "", "root hash of the version")
	return cmd
}

// offlineKeep keeps every version when a tool opens the store without the daemon: only serve
// (with its --keep) decides what to drop.
const offlineKeep = 1 << 30
