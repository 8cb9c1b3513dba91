package hpfs

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func waitSocket(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("socket %s never came up", path)
}
