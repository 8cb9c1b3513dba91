// Command nondet is a deliberately non-deterministic contract for the desync test: it behaves like
// examples/echo-go (each input appended to inputs.log and echoed back as "echo: <input>"), except
// that an input "diverge:<node key>" makes the node whose public key (stdin "public_key") is that
// key, and only that node, write random bytes to noise.bin. That node's state then differs from
// every other node's, as a contract reading the clock or /dev/urandom would make it.
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type args struct {
	PublicKey string                     `json:"public_key"`
	Readonly  bool                       `json:"readonly"`
	UserInFD  int                        `json:"user_in_fd"`
	Users     map[string]json.RawMessage `json:"users"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "nondet:", err)
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
	sort.Strings(keys)
	for _, key := range keys {
		var fields []json.RawMessage // [outfd, [off, len], ...]
		if err := json.Unmarshal(a.Users[key], &fields); err != nil || len(fields) == 0 {
			return fmt.Errorf("user %s: bad entry", key)
		}
		var outfd int
		if err := json.Unmarshal(fields[0], &outfd); err != nil {
			return fmt.Errorf("user %s: bad output fd", key)
		}
		out := os.NewFile(uintptr(outfd), "user-"+key)
		for _, f := range fields[1:] {
			var pair [2]int64
			if err := json.Unmarshal(f, &pair); err != nil {
				return fmt.Errorf("user %s: bad input pair", key)
			}
			buf := make([]byte, pair[1])
			if _, err := in.ReadAt(buf, pair[0]); err != nil {
				return fmt.Errorf("user %s: read input: %w", key, err)
			}
			reply, err := handle(a, string(buf))
			if err != nil {
				return err
			}
			frame := binary.BigEndian.AppendUint32(nil, uint32(len(reply)))
			if _, err := out.Write(append(frame, reply...)); err != nil {
				return fmt.Errorf("user %s: %w", key, err)
			}
		}
	}
	return nil
}

func handle(a args, input string) ([]byte, error) {
	if a.Readonly {
		content, err := os.ReadFile("inputs.log")
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		return content, nil
	}
	if target, ok := strings.CutPrefix(input, "diverge:"); ok && target == a.PublicKey {
		noise := make([]byte, 4096)
		if _, err := rand.Read(noise); err != nil {
			return nil, err
		}
		if err := os.WriteFile("noise.bin", noise, 0o644); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile("inputs.log", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(input + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return []byte("echo: " + input), nil
}
