package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/hpfs/hpnode/hpfs"
)

func serveCmd() *cobra.Command {
	var store, mount, socket string
	var keep int
	var debug bool
	cmd := &cobra.Command{
		Use:   "serve --store DIR --mount DIR [--socket PATH]",
		Short: "run the daemon in the foreground until SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if store == "" || mount == "" {
				return errors.New("serve needs --store and --mount")
			}
			if socket == "" {
				socket = filepath.Join(store, "hpfsd.sock")
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			d, err := hpfs.StartDaemon(hpfs.DaemonOptions{
				Store:    hpfs.StoreOptions{Dir: store, Keep: keep, Logger: log},
				MountDir: mount,
				Debug:    debug,
			})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			g, ctx := errgroup.WithContext(ctx)
			g.Go(func() error { return d.ServeControl(ctx, socket) })
			g.Go(func() error {
				// An external unmount ends the FUSE server; the daemon stops with it.
				select {
				case <-d.Done():
					stop()
				case <-ctx.Done():
				}
				return nil
			})
			err = g.Wait()
			log.Info("hpfsd stopping")
			if cerr := d.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "store directory (created if absent)")
	cmd.Flags().StringVar(&mount, "mount", "", "mount directory")
	cmd.Flags().StringVar(&socket, "socket", "", "control socket (default <store>/hpfsd.sock)")
	cmd.Flags().IntVar(&keep, "keep", hpfs.DefaultKeep, "committed versions to keep")
	cmd.Flags().BoolVar(&debug, "debug", false, "log every FUSE request")
	return cmd
}
