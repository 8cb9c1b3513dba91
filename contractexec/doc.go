// Package contractexec launches a contract binary for one round (or one read request) with the
// HotPocket contract ABI, so that contracts written for HotPocket (hotpocket-nodejs-contract 0.7.4,
// Go, Rust or shell binaries) run unmodified:
//
//   - stdin: one JSON object with HotPocket's keys in HotPocket's order (hp_version, contract_id,
//     public_key, private_key, timestamp, readonly, lcl_seq_no, lcl_hash, npl_fd, control_fd,
//     user_in_fd, users, unl), written by the parent concurrently with the child, so its size is
//     unbounded (HotPocket writes it in the child and deadlocks past the 64 KiB pipe buffer);
//   - fd 3 (user_in_fd): a memfd holding every input at a 4 KiB-aligned offset, named by the
//     [offset,length] pairs in "users";
//   - fd 4 (control_fd) and fd 5 (npl_fd, consensus rounds only): SOCK_SEQPACKET pairs, one message
//     per packet, 128 KiB at most; incoming NPL is two packets (sender key hex, then data);
//   - then one SOCK_STREAM pair per user, carrying 4-byte big-endian length-prefixed output frames;
//   - the working directory is a hpfs session's state/, so ../patch.cfg is the contract config;
//   - environment: only the configured one, plus PATH=DefaultPath (and node's directory) if unset;
//   - user: the node's, or Spec.RunAs (contract.run_as), for the contract and post_exec.sh.
//
// Limits (Limits): CPU seconds, memory (RLIMIT_DATA) and open files are set with ulimit in a
// /bin/sh that then execs the contract (see rlimitShell for why not cgroups); output bytes per
// user and NPL bytes are counted by the collectors, which close the socket past the limit, as
// HotPocket does; the wall-clock timeout SIGKILLs the contract's whole process group. Each hit is
// logged and reported in Result.LimitsHit.
//
// It owns the child process, its process group and every fd it creates, for the duration of Run
// and RunPostExec only: when they return, the group has been killed and reaped and the fds closed.
// It relies on Linux (memfd_create, SOCK_SEQPACKET, process groups) and /bin/sh.
//
// It must never touch the state store other than as the contract's working directory handed to it,
// never sign, broadcast or persist anything (NPL and control messages go back to the caller), and
// never let a contract's failure become the node's: contract faults are Result values, not errors
// or panics.
package contractexec
