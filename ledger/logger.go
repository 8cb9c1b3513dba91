package ledger

import (
	"fmt"
	"github.com/cockroachdb/pebble/v2"
	"log/slog"
)

// pebbleLogger routes pebble's printf-style logging to slog, at debug level for its routine chatter
// ("Found 0 WALs") so that it does not interleave with the node's own output.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf is pebble's report of a broken invariant; pebble expects it not to return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("ledger: pebble fatal: " + msg)
}

// PebbleLogger routes a pebble database's logging to l the way the ledger store does, for the
// node's other pebble stores.
func PebbleLogger(l *slog.Logger) pebble.Logger { return pebbleLogger{l} }
