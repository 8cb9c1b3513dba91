package fsbench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Result is one measured number.
type Result struct {
	Value        float64
	Unit         string
	HigherBetter bool
	Ops          string // FUSE requests by opcode, when counted (Options.CountOps)
}

// String renders the value with its unit, with fewer digits for bigger values.
func (r Result) String() string {
	switch {
	case r.Value >= 100:
		return fmt.Sprintf("%.0f %s", r.Value, r.Unit)
	case r.Value >= 1:
		return fmt.Sprintf("%.1f %s", r.Value, r.Unit)
	}
	return fmt.Sprintf("%.3f %s", r.Value, r.Unit)
}

// A work function is one workload of fsbench.py, in Go: it prepares what it needs in dir outside
// the timing, then returns how long the measured part took. It runs in a worker process (see
// Work) or in the caller's; the caller adds the time of whatever it does after the work inside the
// timing (hpfsd's commit).
type workFunc func(dir string) (time.Duration, error)

func perSecond(n float64, unit string) func(time.Duration) Result {
	return func(d time.Duration) Result { return Result{Value: n / d.Seconds(), Unit: unit, HigherBetter: true} }
}

func microsEach(n float64) func(time.Duration) Result {
	return func(d time.Duration) Result { return Result{Value: d.Seconds() / n * 1e6, Unit: "µs/op"} }
}

func seq(dir string) (time.Duration, error) {
	buf := make([]byte, 128<<10)
	fillRandom(rand.New(rand.NewPCG(1, 1)), buf)
	start := time.Now()
	f, err := os.OpenFile(filepath.Join(dir, "seq.bin"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	for range 800 {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func rand5(dir string) (time.Duration, error) {
	r := rand.New(rand.NewPCG(1, 2))
	f, err := os.OpenFile(filepath.Join(dir, "rand.bin"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Truncate(64 << 20); err != nil {
		return 0, err
	}
	hello := []byte("Hello")
	start := time.Now()
	fd := int(f.Fd())
	for range 5000 {
		if err := rawPwrite(fd, hello, r.Int64N(64<<20)); err != nil {
			return 0, fmt.Errorf("pwrite: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func create(n int) workFunc {
	return func(dir string) (time.Duration, error) {
		d := filepath.Join(dir, fmt.Sprintf("many%d", n))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
		data := make([]byte, 4096)
		for i := range data {
			data[i] = 'x'
		}
		// Plain open, write and close system calls, as fsbench.py makes them (rawsys.go): an
		// os.File would add four fcntl calls and an epoll registration per file.
		start := time.Now()
		for i := range n {
			p := filepath.Join(d, fmt.Sprintf("f%d", i))
			fd, err := rawOpen(p, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC, 0o644)
			if err != nil {
				return 0, err
			}
			if err := rawWrite(fd, data); err != nil {
				rawClose(fd)
				return 0, &os.PathError{Op: "write", Path: p, Err: err}
			}
			if err := rawClose(fd); err != nil {
				return 0, &os.PathError{Op: "close", Path: p, Err: err}
			}
		}
		return time.Since(start), nil
	}
}

func stat(n int) workFunc {
	return func(dir string) (time.Duration, error) {
		d := filepath.Join(dir, fmt.Sprintf("many%d", n))
		var st unix.Stat_t
		start := time.Now()
		for i := range n {
			if err := rawStat(filepath.Join(d, fmt.Sprintf("f%d", i)), &st); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
}

func read4k(dir string) (time.Duration, error) {
	r := rand.New(rand.NewPCG(2, 2))
	f, err := os.Open(filepath.Join(dir, "rand.bin"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	start := time.Now()
	fd := int(f.Fd())
	for range 5000 {
		if err := rawPread(fd, buf, r.Int64N(16384)*4096); err != nil {
			return 0, fmt.Errorf("pread: %w", err)
		}
	}
	return time.Since(start), nil
}

func fillRandom(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}
