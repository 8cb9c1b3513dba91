package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hpfs/hpnode/config"
	"github.com/hpfs/hpnode/node"
	"github.com/hpfs/hpnode/nodedir"
)

func runCmd() *cobra.Command {
	var hpfsd string
	cmd := &cobra.Command{
		Use:   "run DIR",
		Short: "run the node of DIR until SIGTERM or SIGINT",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l := nodedir.Layout{Root: args[0]}
			cfg, err := config.Load(l.HPCfg())
			if err != nil {
				return err
			}
			logger, closeLog, err := nodeLogger(l, cfg)
			if err != nil {
				return err
			}
			defer closeLog()
			n, err := node.NewBuilder(args[0]).HPFSD(hpfsd).Logger(logger).Build()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := n.Run(ctx); err != nil {
				logger.Error("node stopped", "err", err)
				return err
			}
			logger.Info("node stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&hpfsd, "hpfsd", "", "hpfsd binary (default: beside hpnode, else on PATH)")
	return cmd
}

// nodeLogger logs to the console and/or log/hp.log as hp.cfg's log section says.
func nodeLogger(l nodedir.Layout, cfg config.HPConfig) (*slog.Logger, func(), error) {
	var outs []io.Writer
	closeFn := func() {}
	if slices.Contains(cfg.Log.Loggers, "console") {
		outs = append(outs, os.Stderr)
	}
	if slices.Contains(cfg.Log.Loggers, "file") {
		if err := os.MkdirAll(l.LogDir(), 0o755); err != nil {
			return nil, nil, err
		}
		f, err := os.OpenFile(l.NodeLog(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		outs = append(outs, f)
		closeFn = func() { f.Close() }
	}
	level := map[string]slog.Level{"dbg": slog.LevelDebug, "inf": slog.LevelInfo, "wrn": slog.LevelWarn, "err": slog.LevelError}[cfg.Log.LogLevel]
	h := slog.NewTextHandler(io.MultiWriter(outs...), &slog.HandlerOptions{Level: level})
	return slog.New(h), closeFn, nil
}
