// Command meshnode runs one p2p.Node and nothing else, reporting its view
// of the mesh on stdout. It exists so that integration tests can run the
// mesh as real processes (kill -9, restart) before the full node wires it.
//
// Output, one line per change: "listening=ADDR", then "id=HEX", then
// "peers=N known=M" whenever either count changes.
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hpfs/hpnode/p2p"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "meshnode:", err)
		os.Exit(1)
	}
}

func run() error {
	seed := flag.String("seed", "", "64 hex digits: the Ed25519 seed of the node key")
	listen := flag.String("listen", "127.0.0.1:0", "UDP address to bind")
	bootstrap := flag.String("bootstrap", "", "comma-separated peer addresses")
	data := flag.String("data", "", "directory for the known-peer file")
	contract := flag.String("contract", "meshnode", "contract id")
	idle := flag.Duration("idle", 2*time.Second, "connection idle timeout")
	backoffMax := flag.Duration("backoff-max", time.Second, "longest wait between dials of a failing peer")
	flag.Parse()
	raw, err := hex.DecodeString(*seed)
	if err != nil || len(raw) != ed25519.SeedSize {
		return fmt.Errorf("-seed: want %d bytes of hex", ed25519.SeedSize)
	}
	cfg := p2p.Config{
		Key:              ed25519.NewKeyFromSeed(raw),
		ContractID:       *contract,
		ListenAddr:       *listen,
		DataDir:          *data,
		MaxConnsPerHost:  64,
		IdleTimeout:      *idle,
		HandshakeTimeout: 2 * time.Second,
		DialInterval:     100 * time.Millisecond,
		BackoffMin:       100 * time.Millisecond,
		BackoffMax:       *backoffMax,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	if *bootstrap != "" {
		cfg.Bootstrap = strings.Split(*bootstrap, ",")
	}
	n, err := p2p.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("listening=%s\nid=%x\n", n.Addr(), n.ID())
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return n.Close()
		case <-t.C:
		}
		line := fmt.Sprintf("peers=%d known=%d", len(n.Peers()), len(n.KnownPeers()))
		if line != last {
			fmt.Println(line)
			last = line
		}
	}
}
