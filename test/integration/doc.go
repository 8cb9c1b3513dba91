// Package integration holds end-to-end tests with real processes: real FUSE mounts, real sockets,
// kill -9 and restart. Tests build the binaries under test from this module.
package integration
