package fsbench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// A runner runs the workload key in dir and returns how long its measured part took. Workloads
// run in a separate client process (a contract is one): in-process, the client's goroutine
// preemption signals interrupt its blocked file system calls (FUSE INTERRUPT requests) and the
// client shares the daemon's Go scheduler, which a real client never does.
type runner func(key, dir string) (time.Duration, error)

// inProcess runs a Go workload in the calling process: a worker's (Work), never the daemon's
// (see BenchmarkHpfsdWorkloads).
func inProcess(key, dir string) (time.Duration, error) {
	w, ok := workFuncFor(key)
	if !ok {
		return 0, fmt.Errorf("unknown workload %q", key)
	}
	return w(dir)
}

// workFuncFor maps a Go workload's key to its function.
func workFuncFor(key string) (workFunc, bool) {
	switch key {
	case "seq":
		return seq, true
	case "rand5":
		return rand5, true
	case "create2000":
		return create(2000), true
	case "create20000":
		return create(20000), true
	case "stat2000":
		return stat(2000), true
	case "stat20000":
		return stat(20000), true
	case "read4k":
		return read4k, true
	}
	return nil, false
}

// workerLine is what a worker prints: fsbench.py's format (one JSON object per workload, other
// fields ignored), so one parser reads both.
type workerLine struct {
	Workload string   `json:"workload"`
	Seconds  *float64 `json:"seconds"`
}

// Work runs the Go workload key in dir in this process and writes its result to out as one JSON
// line {"workload": key, "seconds": s}, the format of fsbench.py. `hpfsd bench worker DIR KEY`
// calls it: the bench runs every Go workload in such a child process.
func Work(key, dir string, out io.Writer) error {
	d, err := inProcess(key, dir)
	if err != nil {
		return fmt.Errorf("workload %s: %w", key, err)
	}
	s := d.Seconds()
	b, err := json.Marshal(workerLine{Workload: key, Seconds: &s})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}

// maxSeconds bounds a reported duration: no workload here runs for a day.
const maxSeconds = 86400

// parseWorkerOutput finds key's line in a worker's or fsbench.py's output and returns its
// duration. Anything else (no such line, a line that is not JSON, a missing, negative, zero,
// non-finite or absurd duration) is an error.
func parseWorkerOutput(out []byte, key string) (time.Duration, error) {
	for line := range bytes.Lines(out) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var l workerLine
		if err := json.Unmarshal(line, &l); err != nil {
			return 0, fmt.Errorf("worker output %q: %w", truncate(line), err)
		}
		if l.Workload != key {
			continue
		}
		if l.Seconds == nil {
			return 0, fmt.Errorf("worker output for %s has no seconds", key)
		}
		s := *l.Seconds
		if math.IsNaN(s) || s <= 0 || s > maxSeconds {
			return 0, fmt.Errorf("worker output for %s: bad duration %v s", key, s)
		}
		d := time.Duration(s * float64(time.Second))
		if d <= 0 {
			return 0, fmt.Errorf("worker output for %s: bad duration %v s", key, s)
		}
		return d, nil
	}
	return 0, fmt.Errorf("worker output has no result for %s", key)
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// commandRunner runs each workload as argv + [dir, key] (fsbench.py's order) in a child process and reads its JSON
// line from stdout.
func commandRunner(argv []string) runner {
	return func(key, dir string) (time.Duration, error) {
		args := append(append([]string(nil), argv[1:]...), dir, key)
		cmd := exec.Command(argv[0], args...)
		// A Go worker's sysmon preempts its one goroutine every 10 ms with SIGURG, often while
		// that goroutine's thread waits in a FUSE request, which then costs an INTERRUPT round
		// trip and a wakeup (measured: ~12% of a create). fsbench.py's Python gets no such
		// signals; neither does the Go worker with asynchronous preemption off (a single
		// goroutine that never needs it).
		cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w: %s", filepath.Base(argv[0]), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return parseWorkerOutput(out, key)
	}
}

// errNoWorker is returned by Run when Options.Worker is empty.
var errNoWorker = errors.New("fsbench: Options.Worker is empty (the command that runs one workload)")
