// Command echo-go is the Go twin of examples/echo-nodejs, written against the HotPocket contract ABI
// directly (no library): it reads the args JSON on stdin, reads each user's inputs from the input fd
// at their [offset, length], appends each input to inputs.log, and writes "echo: <input>" back as a
// 4-byte big-endian length-prefixed frame on the user's output fd. A read request is answered with
// the content of inputs.log.
//
// The round's lines are appended to inputs.log with one write, and each user's frames are written
// with one write: the state is a FUSE filesystem, where an open/append/close per input costs
// hundreds of microseconds, and a round can carry thousands of inputs.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

type args struct {
	Readonly  bool                       `json:"readonly"`
	LCLSeqNo  uint64                     `json:"lcl_seq_no"`
	UserInFD  int                        `json:"user_in_fd"`
	Users     map[string]json.RawMessage `json:"users"`
	ControlFD int                        `json:"control_fd"`
}

const stateFile = "inputs.log"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "echo-go:", err)
		os.Exit(1)
	}
}

func run() error {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		return fmt.Errorf("read args: %w", err)
	}
	var a args
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("parse args: %w", err)
	}
	in := os.NewFile(uintptr(a.UserInFD), "inputs")
	keys := make([]string, 0, len(a.Users))
	for k := range a.Users {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a deterministic order: every node must write the same state
	var log []byte     // the round's lines for inputs.log
	for _, key := range keys {
		var fields []json.RawMessage // [outfd, [off, len], [off, len], ...]
		if err := json.Unmarshal(a.Users[key], &fields); err != nil || len(fields) == 0 {
			return fmt.Errorf("user %s: bad entry", key)
		}
		var outfd int
		if err := json.Unmarshal(fields[0], &outfd); err != nil {
			return fmt.Errorf("user %s: bad output fd", key)
		}
		out := os.NewFile(uintptr(outfd), "user-"+key)
		var frames []byte
		for _, f := range fields[1:] {
			var pair [2]int64
			if err := json.Unmarshal(f, &pair); err != nil {
				return fmt.Errorf("user %s: bad input pair", key)
			}
			buf := make([]byte, pair[1])
			if _, err := in.ReadAt(buf, pair[0]); err != nil {
				return fmt.Errorf("user %s: read input: %w", key, err)
			}
			var reply []byte
			if a.Readonly {
				content, err := os.ReadFile(stateFile)
				if err != nil && !os.IsNotExist(err) {
					return err
				}
				reply = content
			} else {
				log = append(append(log, buf...), '\n')
				reply = append([]byte("echo: "), buf...)
			}
			frames = binary.BigEndian.AppendUint32(frames, uint32(len(reply)))
			frames = append(frames, reply...)
		}
		if _, err := out.Write(frames); err != nil {
			return fmt.Errorf("user %s: %w", key, err)
		}
	}
	if len(log) == 0 {
		return nil
	}
	f, err := os.OpenFile(stateFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(log); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
