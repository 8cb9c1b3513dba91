package fsbench

import (
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/hpfs/hpnode/hpfs"
	"github.com/hpfs/hpnode/merkle"
)

// Options configures Run.
type Options struct {
	Dir      string    // scratch directory; everything is created below it and removed after
	Out      io.Writer // where the table goes
	Versions int       // versions behind the ro-open workload; 0 means 10,000
	Files    int       // files in the state of the one-change commit workload; 0 means 100,000
	// Worker is the command that runs one Go workload in a child process: Run appends the
	// workload's directory and key (`hpfsd bench worker` is one; see Work). Required: every
	// column's client is a separate process, as a contract is.
	Worker []string
	// FSBench, when set, is the path of shared/bench/fsbench.py: Run then also runs it as the
	// client of every column (with Python, python3 when empty) and prints a second table.
	FSBench string
	Python  string
	// Rounds is how many times every place is measured (all columns in turn each round); each
	// cell then shows its median. 0 means 1. This machine's numbers swing by tens of percent
	// from run to run, so one round shows the weather as much as the code.
	Rounds int
	// CountOps counts the FUSE requests of each hpfsd workload (go-fuse debug logging: the
	// hpfsd column is slower then) and prints them under the table.
	CountOps bool
	// CPUProfile, when set, receives a CPU profile of the process during the hpfsd column: the
	// daemon's side only, since the clients are child processes.
	CPUProfile io.Writer
}

type workload struct {
	name   string
	key    string // the runner's name for it (Work's key, or fsbench.py's workload name)
	value  func(time.Duration) Result
	commit bool // hpfsd: run in its own rw session and commit inside the timing
	target string
	hpfs05 string
}

// goWorkloads are fsbench.py's workloads in Go, with create and stat also at 20,000 files.
var goWorkloads = []workload{
	{"seq 100 MiB", "seq", perSecond(100*1.048576, "MB/s"), true, "≥ 400 MB/s, ≥ 0.7× loopback", "58–100 MB/s"},
	{"rand5 (+commit)", "rand5", microsEach(5000), true, "≤ 40 µs", "1250–1280 µs"},
	{"create 2000 (+commit)", "create2000", perSecond(2000, "files/s"), true, "≥ 6000/s, ≥ 1.5× loopback", "3800–4100/s"},
	{"create 20000 (+commit)", "create20000", perSecond(20000, "files/s"), true, "≥ 6000/s, ≥ 1.5× loopback", "3800–4100/s"},
	{"stat 2000", "stat2000", perSecond(2000, "stats/s"), false, "≥ 30000/s", "~15000/s"},
	{"stat 20000", "stat20000", perSecond(20000, "stats/s"), false, "≥ 30000/s", "~15000/s"},
	{"read4k", "read4k", microsEach(5000), false, "≤ 25 µs", "37–43 µs"},
}

// pyWorkloads are fsbench.py's own workloads, run by the script (the tool hpfs 0.5.0 was
// measured with), in a py/ subdirectory of each column.
var pyWorkloads = []workload{
	{"seq 100 MiB", "seq", perSecond(100*1.048576, "MB/s"), true, "≥ 400 MB/s, ≥ 0.7× loopback", "58–100 MB/s"},
	{"rand5 (+commit)", "rand5", microsEach(5000), true, "≤ 40 µs", "1250–1280 µs"},
	{"create 2000 (+commit)", "create", perSecond(2000, "files/s"), true, "≥ 6000/s, ≥ 1.5× loopback", "3800–4100/s"},
	{"stat 2000", "stat", perSecond(2000, "stats/s"), false, "≥ 30000/s", "~15000/s"},
	{"read4k", "read4k", microsEach(5000), false, "≤ 25 µs", "37–43 µs"},
}

func nothing() error { return nil }

// column is one client configuration run in every place (native, loopback, hpfsd).
type column struct {
	wls    []workload
	run    runner
	subdir string // where in each place's directory the workloads run
}

// Run measures every workload and writes the table (and fsbench.py's, with Options.FSBench) to
// opts.Out.
func Run(opts Options) error {
	if opts.Dir == "" {
		return errors.New("fsbench: Dir is empty")
	}
	if len(opts.Worker) == 0 {
		return errNoWorker
	}
	if opts.Versions == 0 {
		opts.Versions = 10000
	}
	if opts.Files == 0 {
		opts.Files = 100000
	}
	if opts.Python == "" {
		opts.Python = "python3"
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(opts.Dir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	cols := []column{{wls: goWorkloads, run: commandRunner(opts.Worker)}}
	if opts.FSBench != "" {
		cols = append(cols, column{wls: pyWorkloads, run: commandRunner([]string{opts.Python, opts.FSBench}), subdir: "py"})
	}
	rounds := make([]round, 0, max(opts.Rounds, 1))
	for r := range max(opts.Rounds, 1) {
		if r > 0 { // every round starts from empty places and a fresh store
			opts.CPUProfile = nil // one profile: the first round's
			if err := os.RemoveAll(opts.Dir); err != nil {
				return err
			}
			if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
				return err
			}
		}
		rd, err := runRound(opts, log, cols)
		if err != nil {
			return fmt.Errorf("round %d: %w", r+1, err)
		}
		rounds = append(rounds, rd)
	}
	nat, loop, plain, hp, extra := medianRound(rounds)
	// Every column's latency depends on them (hpfs/haltpoll.go, fusewake.go): say which
	// machine this was.
	fmt.Fprintf(opts.Out, "machine: %d CPUs, %s\n", runtime.NumCPU(), hpfs.MachineLatency("/sys"))
	if len(rounds) > 1 {
		fmt.Fprintf(opts.Out, "each cell: the median of %d rounds, every round running all columns in turn\n", len(rounds))
	}
	if err := printTable(opts.Out, goWorkloads, nat[0], loop[0], plain[0], hp[0], extra); err != nil {
		return err
	}
	for i, wl := range goWorkloads {
		if hp[0][i].Ops != "" {
			fmt.Fprintf(opts.Out, "FUSE requests, hpfsd %s: %s\n", wl.name, hp[0][i].Ops)
		}
	}
	if opts.FSBench != "" {
		fmt.Fprintf(opts.Out, "\nfsbench.py (%s) as the client:\n", opts.FSBench)
		if err := printTable(opts.Out, pyWorkloads, nat[1], loop[1], plain[1], hp[1], nil); err != nil {
			return err
		}
	}
	return nil
}

func printTable(out io.Writer, wls []workload, nat, loop, plain, hp []Result, extra []extraResult) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "workload\tnative\tloopback\tloopback, no passthrough\thpfsd rw/state\tvs native\tvs loopback\tvs no-passthrough\ttarget\thpfs 0.5.0")
	for i, wl := range wls {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", wl.name, nat[i], loop[i], plain[i], hp[i],
			ratio(hp[i], nat[i]), ratio(hp[i], loop[i]), ratio(hp[i], plain[i]), wl.target, wl.hpfs05)
	}
	for _, e := range extra {
		fmt.Fprintf(w, "%s\t—\t—\t—\t%s\t—\t—\t—\t%s\t%s\n", e.name, e.res, e.target, e.hpfs05)
	}
	fmt.Fprintln(w, "(ratios are speed factors: > 1× means hpfsd is faster)")
	return w.Flush()
}

// ratio is how many times faster a is than b.
func ratio(a, b Result) string {
	if a.Value == 0 || b.Value == 0 {
		return "—"
	}
	if a.HigherBetter {
		return fmt.Sprintf("%.2f×", a.Value/b.Value)
	}
	return fmt.Sprintf("%.2f×", b.Value/a.Value)
}

// round is one measurement of every place: results per column, then per workload.
type round struct {
	nat, loop, plain, hp [][]Result
	extra                []extraResult
}

// runRound measures every place once, one after the other.
func runRound(opts Options, log *slog.Logger, cols []column) (round, error) {
	var rd round
	var err error
	if rd.nat, err = runPlaces(filepath.Join(opts.Dir, "native"), cols, nil); err != nil {
		return rd, fmt.Errorf("native: %w", err)
	}
	if rd.loop, err = runLoopback(opts.Dir, "loop", fs.NewLoopbackRoot, cols); err != nil {
		return rd, fmt.Errorf("loopback: %w", err)
	}
	if rd.plain, err = runLoopback(opts.Dir, "plain", newNoPassthroughRoot, cols); err != nil {
		return rd, fmt.Errorf("loopback without passthrough: %w", err)
	}
	if rd.hp, rd.extra, err = runHpfsd(opts, log, cols); err != nil {
		return rd, fmt.Errorf("hpfsd: %w", err)
	}
	return rd, nil
}

// medianRound is every cell's median over the rounds (the lower middle of an even count); the
// FUSE op counts are the first round's.
func medianRound(rounds []round) (nat, loop, plain, hp [][]Result, extra []extraResult) {
	cells := func(pick func(round) [][]Result) [][]Result {
		first := pick(rounds[0])
		out := make([][]Result, len(first))
		for c := range first {
			out[c] = make([]Result, len(first[c]))
			for i := range first[c] {
				vs := make([]Result, len(rounds))
				for r, rd := range rounds {
					vs[r] = pick(rd)[c][i]
				}
				out[c][i] = medianResult(vs)
				out[c][i].Ops = first[c][i].Ops
			}
		}
		return out
	}
	nat = cells(func(r round) [][]Result { return r.nat })
	loop = cells(func(r round) [][]Result { return r.loop })
	plain = cells(func(r round) [][]Result { return r.plain })
	hp = cells(func(r round) [][]Result { return r.hp })
	extra = append([]extraResult(nil), rounds[0].extra...)
	for i := range extra {
		vs := make([]Result, len(rounds))
		for r, rd := range rounds {
			vs[r] = rd.extra[i].res
		}
		extra[i].res = medianResult(vs)
	}
	return nat, loop, plain, hp, extra
}

// medianResult is the middle value of vs (the lower middle of an even count).
func medianResult(vs []Result) Result {
	sorted := append([]Result(nil), vs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Value < sorted[j].Value })
	return sorted[(len(sorted)-1)/2]
}

// runPlaces runs every column's workloads in dir (each in its subdirectory), one result slice per
// column. setup, when not nil, returns the hook run inside the timing after a workload's work and
// one run after its measurement.
func runPlaces(dir string, cols []column, setup func(w workload) (after, done func() error, err error)) ([][]Result, error) {
	if setup == nil {
		setup = func(workload) (func() error, func() error, error) { return nothing, nothing, nil }
	}
	out := make([][]Result, len(cols))
	for c, col := range cols {
		d := filepath.Join(dir, col.subdir)
		out[c] = make([]Result, len(col.wls))
		for i, wl := range col.wls {
			after, done, err := setup(wl)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", wl.name, err)
			}
			// After setup: in hpfsd, setup may roll back the session that made it.
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
			took, err := col.run(wl.key, d)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", wl.name, err)
			}
			start := time.Now()
			if err := after(); err != nil {
				return nil, fmt.Errorf("%s: %w", wl.name, err)
			}
			out[c][i] = wl.value(took + time.Since(start))
			if err := done(); err != nil {
				return nil, fmt.Errorf("%s: %w", wl.name, err)
			}
		}
	}
	return out, nil
}

func runLoopback(base, name string, newRoot func(string) (fs.InodeEmbedder, error), cols []column) ([][]Result, error) {
	src, mnt := filepath.Join(base, name+"-src"), filepath.Join(base, name+"-mnt")
	for _, d := range []string{src, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	root, err := newRoot(src)
	if err != nil {
		return nil, err
	}
	srv, err := fs.Mount(mnt, root, nil) // go-fuse's defaults: the loopback as shipped
	if err != nil {
		return nil, err
	}
	defer func() {
		srv.Unmount()
		srv.Wait()
	}()
	return runPlaces(mnt, cols, nil)
}

type extraResult struct {
	name, target, hpfs05 string
	res                  Result
}

func runHpfsd(opts Options, log *slog.Logger, cols []column) ([][]Result, []extraResult, error) {
	dopts := hpfs.DaemonOptions{
		Store:    hpfs.StoreOptions{Dir: filepath.Join(opts.Dir, "hpfs-store"), Logger: log},
		MountDir: filepath.Join(opts.Dir, "hpfs-mnt"),
	}
	var ops *opCounter
	if opts.CountOps {
		ops = newOpCounter()
		dopts.Debug, dopts.FuseLog = true, stdlog.New(ops, "", 0)
	}
	d, err := hpfs.StartDaemon(dopts)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return nil, nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	state := filepath.Join(d.MountDir(), hpfs.RWView, hpfs.StateDir)
	inSession := false
	var opsSeen []string
	res, err := runPlaces(state, cols, func(w workload) (func() error, func() error, error) {
		done := nothing
		if ops != nil {
			defer ops.take() // what the session setup cost is not the workload's
			done = func() error { opsSeen = append(opsSeen, ops.take()); return nil }
		}
		if w.commit || !inSession {
			if inSession {
				if err := d.RollbackRW(); err != nil {
					return nil, nil, err
				}
			}
			if _, err := d.BeginRW(); err != nil {
				return nil, nil, err
			}
			inSession = true
		}
		if !w.commit {
			return nothing, done, nil
		}
		commit := func() error {
			_, err := d.CommitRW()
			inSession = false
			return err
		}
		return commit, done, nil
	})
	if opts.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, nil, err
	}
	for i := range min(len(opsSeen), len(goWorkloads)) {
		res[0][i].Ops = opsSeen[i]
	}
	if inSession {
		if err := d.RollbackRW(); err != nil {
			return nil, nil, err
		}
	}
	// read4k again on current/: a read-only view, whose opens get kernel passthrough.
	took, err := commandRunner(opts.Worker)("read4k", filepath.Join(d.MountDir(), hpfs.CurrentView, hpfs.StateDir))
	if err != nil {
		return nil, nil, fmt.Errorf("read4k on current: %w", err)
	}
	cur := microsEach(5000)(took)
	begin, err := measureBegin(d)
	if err != nil {
		return nil, nil, fmt.Errorf("rw begin: %w", err)
	}
	extra := []extraResult{
		{"read4k on current/ (ro view, passthrough)", "≤ 25 µs", "37–43 µs", cur},
		{"rw begin (median of 200)", "< 5 ms", "~1 s (rw+hmap, 46k records)", begin},
	}
	ro, err := measureROOpen(opts, log)
	if err != nil {
		return nil, nil, fmt.Errorf("ro open: %w", err)
	}
	extra = append(extra, extraResult{fmt.Sprintf("ro open, %d versions behind", opts.Versions), "< 5 ms", "~1 s at 46k records", ro})
	c, err := measureOneChangeCommit(opts, log)
	if err != nil {
		return nil, nil, fmt.Errorf("one-change commit: %w", err)
	}
	extra = append(extra, extraResult{fmt.Sprintf("commit 1 changed file, %d-file state", opts.Files), "< 10 ms", "—", c})
	return res, extra, nil
}

func median(ds []time.Duration) Result {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return Result{Value: float64(ds[len(ds)/2].Nanoseconds()) / 1e6, Unit: "ms"}
}

// measureBegin times BeginRW plus the first stat of rw/state (the session is usable then).
func measureBegin(d *hpfs.Daemon) (Result, error) {
	var ds []time.Duration
	for range 200 {
		start := time.Now()
		if _, err := d.BeginRW(); err != nil {
			return Result{}, err
		}
		if _, err := os.Stat(filepath.Join(d.MountDir(), hpfs.RWView, hpfs.StateDir)); err != nil {
			return Result{}, err
		}
		ds = append(ds, time.Since(start))
		if err := d.RollbackRW(); err != nil {
			return Result{}, err
		}
	}
	return median(ds), nil
}

// measureROOpen builds opts.Versions versions (one small change each), then times opening a
// read-only session at the oldest one and the first stat inside it.
func measureROOpen(opts Options, log *slog.Logger) (Result, error) {
	dir := filepath.Join(opts.Dir, "ro-store")
	st, err := hpfs.OpenStore(hpfs.StoreOptions{Dir: dir, Keep: opts.Versions + 10, Logger: log})
	if err != nil {
		return Result{}, err
	}
	p := st.Params()
	for i := range opts.Versions {
		ov := hpfs.NewOverlay(st)
		ed, err := merkle.NewEditor(ov, st.Head().Root, p)
		if err != nil {
			st.Close()
			return Result{}, err
		}
		data := []byte(fmt.Sprintf("version %d", i))
		h := merkle.LeafHash(data)
		ov.PutLeaf(h, data)
		if err := ed.WriteFile("state/counter", 0o644, uint64(len(data)), map[uint64]merkle.Hash{0: h}); err != nil {
			st.Close()
			return Result{}, err
		}
		root, err := ed.Commit()
		if err != nil {
			st.Close()
			return Result{}, err
		}
		if _, err := st.Commit(root, ov); err != nil {
			st.Close()
			return Result{}, err
		}
	}
	oldest := st.Versions()[1].Root
	if err := st.Close(); err != nil {
		return Result{}, err
	}
	d, err := hpfs.StartDaemon(hpfs.DaemonOptions{
		Store:    hpfs.StoreOptions{Dir: dir, Keep: opts.Versions + 10, Logger: log},
		MountDir: filepath.Join(opts.Dir, "ro-mnt"),
	})
	if err != nil {
		return Result{}, err
	}
	defer d.Close()
	var ds []time.Duration
	for i := range 200 {
		name := fmt.Sprintf("s%d", i)
		start := time.Now()
		if _, err := d.OpenRO(name, &oldest); err != nil {
			return Result{}, err
		}
		if _, err := os.Stat(filepath.Join(d.MountDir(), name, hpfs.StateDir, "counter")); err != nil {
			return Result{}, err
		}
		ds = append(ds, time.Since(start))
		if err := d.CloseRO(name); err != nil {
			return Result{}, err
		}
	}
	return median(ds), nil
}

// measureOneChangeCommit builds a state of opts.Files files (1,000 per directory), then times
// commits of sessions that each rewrite one small file through the mount.
func measureOneChangeCommit(opts Options, log *slog.Logger) (Result, error) {
	dir := filepath.Join(opts.Dir, "big-store")
	st, err := hpfs.OpenStore(hpfs.StoreOptions{Dir: dir, Logger: log})
	if err != nil {
		return Result{}, err
	}
	ov := hpfs.NewOverlay(st)
	ed, err := merkle.NewEditor(ov, st.Head().Root, st.Params())
	if err != nil {
		st.Close()
		return Result{}, err
	}
	for i := range opts.Files {
		if i%1000 == 0 {
			if err := ed.Mkdir(fmt.Sprintf("state/d%d", i/1000), 0o755); err != nil {
				st.Close()
				return Result{}, err
			}
		}
		data := []byte(fmt.Sprintf("file %d", i))
		h := merkle.LeafHash(data)
		ov.PutLeaf(h, data)
		if err := ed.WriteFile(fmt.Sprintf("state/d%d/f%d", i/1000, i), 0o644, uint64(len(data)), map[uint64]merkle.Hash{0: h}); err != nil {
			st.Close()
			return Result{}, err
		}
	}
	root, err := ed.Commit()
	if err == nil {
		_, err = st.Commit(root, ov)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Result{}, err
	}
	d, err := hpfs.StartDaemon(hpfs.DaemonOptions{
		Store:    hpfs.StoreOptions{Dir: dir, Logger: log},
		MountDir: filepath.Join(opts.Dir, "big-mnt"),
	})
	if err != nil {
		return Result{}, err
	}
	defer d.Close()
	var ds []time.Duration
	for i := range 30 {
		if _, err := d.BeginRW(); err != nil {
			return Result{}, err
		}
		dirIdx := (opts.Files - 1) / 1000 / 2
		p := filepath.Join(d.MountDir(), hpfs.RWView, hpfs.StateDir, fmt.Sprintf("d%d", dirIdx), fmt.Sprintf("f%d", dirIdx*1000+i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("changed %d", i)), 0o644); err != nil {
			return Result{}, err
		}
		start := time.Now()
		if _, err := d.CommitRW(); err != nil {
			return Result{}, err
		}
		ds = append(ds, time.Since(start))
	}
	return median(ds), nil
}
