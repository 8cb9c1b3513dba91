package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hpfs/hpnode/hpfs"
)

// conn holds the flags every client subcommand shares.
type conn struct {
	store, socket string
	json          bool
}

func (c *conn) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.store, "store", "", "store directory of the daemon (socket at <store>/hpfsd.sock)")
	cmd.Flags().StringVar(&c.socket, "socket", "", "control socket of the daemon")
	cmd.Flags().BoolVar(&c.json, "json", false, "print the result as JSON")
}

func (c *conn) path() (string, error) {
	switch {
	case c.socket != "":
		return c.socket, nil
	case c.store != "":
		return filepath.Join(c.store, "hpfsd.sock"), nil
	}
	return "", errors.New("need --store DIR or --socket PATH")
}

// call runs one request; with --json it prints the raw result, else human calls print(out).
func (c *conn) call(req hpfs.Request, out any, human func()) error {
	sock, err := c.path()
	if err != nil {
		return err
	}
	if err := hpfs.Call(sock, req, out); err != nil {
		return err
	}
	if c.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	human()
	return nil
}

func rwCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rw begin|commit|rollback", Short: "control the read-write session"}
	var c1, c2, c3 conn
	begin := &cobra.Command{Use: "begin", Short: "open the read-write session at <mount>/rw", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var v hpfs.VersionInfo
			return c1.call(hpfs.Request{Op: hpfs.OpRWBegin}, &v, func() {
				fmt.Printf("rw session open on version %d %s\n", v.Seq, v.Root)
			})
		}}
	commit := &cobra.Command{Use: "commit", Short: "commit the session as a new version and close it", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ci hpfs.CommitInfo
			return c2.call(hpfs.Request{Op: hpfs.OpRWCommit}, &ci, func() {
				fmt.Printf("root       %s\nstate      %s\npatch.cfg  %s\nversion    %d\n", ci.Root, ci.StateHash, ci.PatchHash, ci.Version.Seq)
			})
		}}
	rollback := &cobra.Command{Use: "rollback", Short: "drop the session's changes and close it", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r struct{}
			return c3.call(hpfs.Request{Op: hpfs.OpRWRollback}, &r, func() { fmt.Println("rw session rolled back") })
		}}
	c1.flags(begin)
	c2.flags(commit)
	c3.flags(rollback)
	cmd.AddCommand(begin, commit, rollback)
	return cmd
}

func roCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ro open|close NAME", Short: "control read-only sessions"}
	var c1, c2 conn
	var version string
	open := &cobra.Command{Use: "open NAME [--version ROOT]", Short: "show a kept version at <mount>/NAME", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v hpfs.VersionInfo
			return c1.call(hpfs.Request{Op: hpfs.OpROOpen, Name: args[0], Version: version}, &v, func() {
				fmt.Printf("ro session %s open on version %d %s\n", args[0], v.Seq, v.Root)
			})
		}}
	open.Flags().StringVar(&version, "version", "", "root hash of a kept version (default: head)")
	closeC := &cobra.Command{Use: "close NAME", Short: "remove a read-only session", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r struct{}
			return c2.call(hpfs.Request{Op: hpfs.OpROClose, Name: args[0]}, &r, func() {
				fmt.Printf("ro session %s closed\n", args[0])
			})
		}}
	c1.flags(open)
	c2.flags(closeC)
	cmd.AddCommand(open, closeC)
	return cmd
}

func optArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

func hashCmd() *cobra.Command {
	var c conn
	var version, dir string
	cmd := &cobra.Command{Use: "hash [PATH] [--version ROOT]", Short: "print the hash of a path (default: the root)",
		Long: "With --dir DIR, hash a plain directory laid out like a view (DIR/state, DIR/patch.cfg) from scratch, without a daemon.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir != "" {
				return hashDir(dir, c.json)
			}
			var h hpfs.HashInfo
			return c.call(hpfs.Request{Op: hpfs.OpHash, Path: optArg(args), Version: version}, &h, func() {
				if h.Entry.Path == "" {
					fmt.Printf("root       %s\nstate      %s\npatch.cfg  %s\n", h.Root, h.StateHash, h.PatchHash)
					return
				}
				fmt.Printf("%s  %s\n", h.Entry.Hash, h.Entry.Path)
			})
		}}
	c.flags(cmd)
	cmd.Flags().StringVar(&version, "version", "", "root hash of a kept version (default: head)")
	cmd.Flags().StringVar(&dir, "dir", "", "hash this plain directory from scratch instead")
	return cmd
}

func lsCmd() *cobra.Command {
	var c conn
	var version string
	var hashes bool
	cmd := &cobra.Command{Use: "ls [PATH] [--hashes]", Short: "list a directory of a version", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var es []hpfs.EntryInfo
			return c.call(hpfs.Request{Op: hpfs.OpLs, Path: optArg(args), Version: version}, &es, func() {
				w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				for _, e := range es {
					if hashes {
						fmt.Fprintf(w, "%s\t%04o\t%d\t%s\t%s\n", e.Kind, e.Mode, e.Size, e.Hash, e.Name)
					} else {
						fmt.Fprintf(w, "%s\t%04o\t%d\t%s\n", e.Kind, e.Mode, e.Size, e.Name)
					}
				}
				w.Flush()
			})
		}}
	c.flags(cmd)
	cmd.Flags().StringVar(&version, "version", "", "root hash of a kept version (default: head)")
	cmd.Flags().BoolVar(&hashes, "hashes", false, "print each entry's hash")
	return cmd
}

func versionsCmd() *cobra.Command {
	var c conn
	cmd := &cobra.Command{Use: "versions", Short: "list the kept versions, oldest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var vs []hpfs.VersionInfo
			return c.call(hpfs.Request{Op: hpfs.OpVersions}, &vs, func() {
				for _, v := range vs {
					fmt.Printf("%6d  %s  %s\n", v.Seq, v.Root, v.Time.Format("2006-01-02T15:04:05.000Z07:00"))
				}
			})
		}}
	c.flags(cmd)
	return cmd
}

func diffCmd() *cobra.Command {
	var c conn
	cmd := &cobra.Command{Use: "diff ROOT1 ROOT2", Short: "list the paths that differ between two kept versions", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ds []hpfs.DiffEntry
			return c.call(hpfs.Request{Op: hpfs.OpDiff, Root1: args[0], Root2: args[1]}, &ds, func() {
				for _, d := range ds {
					mark := map[hpfs.DiffKind]string{hpfs.DiffAdded: "+", hpfs.DiffRemoved: "-", hpfs.DiffModified: "M"}[d.Kind]
					fmt.Printf("%s %s\n", mark, d.Path)
				}
			})
		}}
	c.flags(cmd)
	return cmd
}

func statusCmd() *cobra.Command {
	var c conn
	cmd := &cobra.Command{Use: "status", Short: "print the head version and the open sessions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var st hpfs.StatusInfo
			return c.call(hpfs.Request{Op: hpfs.OpStatus}, &st, func() {
				fmt.Printf("mount  %s\nhead   %d %s\nrw     %v\n", st.Mount, st.Head.Seq, st.Head.Root, st.RWOpen)
				for n, v := range st.ROSessions {
					fmt.Printf("ro     %s at %d %s\n", n, v.Seq, v.Root)
				}
			})
		}}
	c.flags(cmd)
	return cmd
}
