package node

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
)

// maxLogLine bounds one logged contract line; longer lines are split.
const maxLogLine = 16 << 10

// lineLogger turns a contract's stdout and stderr into node log lines, so `hpnode cluster logs`
// shows them between the node's own lines, as HotPocket's logs do.
type lineLogger struct {
	logger *slog.Logger
}

// stream returns a writer whose complete lines are logged with the stream name.
func (l *lineLogger) stream(name string) io.Writer {
	return &lineWriter{logger: l.logger, stream: name}
}

var _ io.Writer = (*lineWriter)(nil)

type lineWriter struct {
	mu     sync.Mutex
	logger *slog.Logger
	stream string
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > maxLogLine {
				w.emit(w.buf[:maxLogLine])
				w.buf = append(w.buf[:0], w.buf[maxLogLine:]...)
				continue
			}
			return len(p), nil
		}
		w.emit(w.buf[:i])
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
	}
}

func (w *lineWriter) emit(line []byte) {
	w.logger.Info("contract: "+string(bytes.TrimRight(line, "\r")), "stream", w.stream)
}
