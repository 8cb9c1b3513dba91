// Package fsbench runs the reference filesystem workloads of shared/bench/fsbench.py (seq, rand5,
// create, stat, read4k) in Go on a native directory, a go-fuse loopback mount of it and hpfsd's
// rw/state (including the commit that hashes the work), plus the hpfsd-only session workloads
// (rw begin, ro open with 10,000 versions behind it, commit after one change in a 100k-file
// state), and prints one table with ratios. Every workload's client is a child process (`hpfsd
// bench worker DIR KEY`, see Work), as a contract is; with Options.FSBench the reference script
// fsbench.py itself is also run as the client of every column, in a second table.
//
// It relies on hpfs (an in-process Daemon) and go-fuse. It is a benchmark tool: it never runs in
// `go test` without -bench, and it must never be pointed at a directory holding anything of value
// (it creates and deletes files under the directory it is given).
package fsbench
