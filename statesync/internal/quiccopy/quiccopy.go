// Package quiccopy is the baseline of the state-sync benchmarks: the same byte count copied on
// one plain quic-go stream over loopback (TLS 1.3, default quic-go settings), so a sync's rate can
// be read as a ratio to it in one run. It is used only by benchmarks.
package quiccopy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// Copier is a loopback quic-go connection whose server answers each stream with total bytes.
type Copier struct {
	conn  *quic.Conn
	ctx   context.Context
	buf   []byte
	total int64
}

// Start sets up a Copier of total bytes per copy; b's cleanup closes it.
func Start(b testing.TB, total int64) *Copier {
	srvTLS, cliTLS := benchTLS(b)
	ln, err := quic.ListenAddr("127.0.0.1:0", srvTLS, &quic.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Go(func() { serve(ctx, ln, total) })
	conn, err := quic.DialAddr(ctx, ln.Addr().String(), cliTLS, &quic.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.CloseWithError(0, "") })
	return &Copier{conn: conn, ctx: ctx, buf: make([]byte, 1<<20), total: total}
}

// Copy copies total bytes from the server on a fresh stream.
func (c *Copier) Copy(b testing.TB) {
	str, err := c.conn.OpenStreamSync(c.ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := str.Write([]byte{1}); err != nil {
		b.Fatal(err)
	}
	got, err := io.CopyBuffer(io.Discard, str, c.buf)
	if err != nil || got != c.total {
		b.Fatalf("copied %d bytes (%v), want %d", got, err, c.total)
	}
}

// Bench copies total bytes per iteration from a server stream to the benchmark's client.
func Bench(b *testing.B, total int64) {
	c := Start(b, total)
	b.SetBytes(total)
	b.ResetTimer()
	cpu0 := CPUTime(b)
	defer func() { ReportCPU(b, CPUTime(b)-cpu0, total*int64(b.N)) }()
	for b.Loop() {
		c.Copy(b)
	}
}

// serve answers every stream of the first connection with total bytes.
func serve(ctx context.Context, ln *quic.Listener, total int64) {
	conn, err := ln.Accept(ctx)
	if err != nil {
		return
	}
	defer conn.CloseWithError(0, "")
	buf := make([]byte, 1<<20)
	_, _ = rand.Read(buf)
	for {
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		for sent := int64(0); sent < total; {
			n := min(int64(len(buf)), total-sent)
			if _, err := str.Write(buf[:n]); err != nil {
				return
			}
			sent += n
		}
		str.Close()
	}
}

func benchTLS(b testing.TB) (srv, cli *tls.Config) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		b.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	srv = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"bench"}, MinVersion: tls.VersionTLS13}
	cli = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"bench"}, MinVersion: tls.VersionTLS13}
	return srv, cli
}

// CPUTime is the process's user+system CPU time so far.
func CPUTime(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the CPU seconds spent per GiB moved: on a shared machine the wall-clock
// rate depends on what else runs, the CPU cost per byte much less, so the ratio of two
// benchmarks' cpu-s/GiB is the steadier comparison.
func ReportCPU(b *testing.B, cpu time.Duration, bytes int64) {
	if bytes > 0 {
		b.ReportMetric(cpu.Seconds()/(float64(bytes)/(1<<30)), "cpu-s/GiB")
	}
}
