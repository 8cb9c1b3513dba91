// Package contractexec launches a contract binary for one round (or one read request) with the
// HotPocket contract ABI: stdin JSON, the input memfd, per-user sockets, control and NPL channels,
// post_exec.sh, and enforced round limits.
//
// It owns the child process and its fds for the duration of Run. It never touches the state store
// other than as the contract's working directory handed to it.
package contractexec
