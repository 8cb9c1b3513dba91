// Command gocontract is a HotPocket contract written in Go against the raw contract ABI (no
// library): it parses the stdin JSON, preads its inputs from user_in_fd, writes length-prefixed
// frames to each user's fd, and uses the control and NPL fds. argv[1] selects a behaviour; the
// default treats each input as a command, like the nodejs and shell test contracts.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

type hpArgs struct {
	HPVersion  string                       `json:"hp_version"`
	ContractID string                       `json:"contract_id"`
	PublicKey  string                       `json:"public_key"`
	PrivateKey string                       `json:"private_key"`
	Timestamp  uint64                       `json:"timestamp"`
	Readonly   bool                         `json:"readonly"`
	LCLSeq     *uint64                      `json:"lcl_seq_no"`
	LCLHash    *string                      `json:"lcl_hash"`
	NPLFd      *int                         `json:"npl_fd"`
	ControlFd  int                          `json:"control_fd"`
	UserInFd   int                          `json:"user_in_fd"`
	Users      map[string][]json.RawMessage `json:"users"`
	UNL        map[string]struct {
		ActiveOn uint64 `json:"active_on"`
	} `json:"unl"`
}

type user struct {
	key    string
	out    *os.File
	inputs [][2]int64
}

func main() {
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if mode == "earlyexit" {
		os.Exit(0)
	}
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("read stdin: %v", err)
	}
	var a hpArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		fail("parse stdin: %v", err)
	}
	in := os.NewFile(uintptr(a.UserInFd), "inputs")
	var users []user
	for k, v := range a.Users {
		var fd int
		json.Unmarshal(v[0], &fd)
		u := user{key: k, out: os.NewFile(uintptr(fd), "out")}
		for _, p := range v[1:] {
			var sp [2]int64
			json.Unmarshal(p, &sp)
			u.inputs = append(u.inputs, sp)
		}
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].key < users[j].key })
	read := func(sp [2]int64) []byte {
		b := make([]byte, sp[1])
		if _, err := in.ReadAt(b, sp[0]); err != nil && sp[1] > 0 {
			fail("pread input: %v", err)
		}
		return b
	}

	switch mode {
	case "trivial":
		return
	case "echoall":
		for _, u := range users {
			for _, sp := range u.inputs {
				send(u.out, read(sp))
			}
		}
	case "whoami":
		send(users[0].out, []byte(fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())))
	case "stdinjson":
		send(users[0].out, raw)
	case "crash":
		send(users[0].out, []byte("before crash"))
		var p *user
		fmt.Println(p.key)
	case "loop":
		for x := 0; ; x++ {
			_ = x * x
		}
	case "sleep":
		time.Sleep(time.Hour)
	case "alloc":
		var keep [][]byte
		for {
			b := make([]byte, 16<<20)
			for i := range b {
				b[i] = byte(i)
			}
			keep = append(keep, b)
		}
	case "fds":
		var keep []*os.File
		for {
			f, err := os.Open("/dev/null")
			if err != nil {
				fail("open: %v", err)
			}
			keep = append(keep, f)
		}
	case "bigout", "midout":
		n := 100
		if mode == "midout" {
			n = 20
		}
		chunk := make([]byte, 1<<20)
		for i := 0; i < n; i++ {
			if err := send(users[0].out, chunk); err != nil {
				fail("write output: %v", err)
			}
		}
	case "brokenframe":
		send(users[0].out, []byte("whole"))
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], 100)
		users[0].out.Write(append(hdr[:], "only ten b"...))
	case "brokenheader":
		send(users[0].out, []byte("whole"))
		users[0].out.Write([]byte{0, 0})
	case "hugeheader":
		users[0].out.Write([]byte{0xff, 0xff, 0xff, 0xff, 'x'})
	case "dribble":
		// Frames written a few bytes at a time, so the runner sees headers split across reads.
		for i := 0; i < 3; i++ {
			msg := []byte(fmt.Sprintf("dribble-%d", i))
			var frame []byte
			frame = binary.BigEndian.AppendUint32(frame, uint32(len(msg)))
			frame = append(frame, msg...)
			for j := 0; j < len(frame); j += 3 {
				users[0].out.Write(frame[j:min(j+3, len(frame))])
				time.Sleep(2 * time.Millisecond)
			}
		}
	case "orphan":
		// Leaves a child holding every inherited fd, then exits: the runner must not wait for it.
		cmd := exec.Command("sleep", "60")
		cmd.ExtraFiles = []*os.File{in}
		cmd.Stdout = users[0].out
		cmd.Start()
		send(users[0].out, []byte("orphaned"))
	case "escape":
		// A child in its own session, out of reach of the process-group kill, keeps the user
		// socket open for a while after the contract exits.
		cmd := exec.Command("sleep", "10")
		cmd.Stdout = users[0].out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.Start()
		send(users[0].out, []byte("escaped"))
	case "nplflood":
		npl := os.NewFile(uintptr(*a.NPLFd), "npl")
		for i := 0; i < 100; i++ {
			if _, err := npl.Write(make([]byte, 10000)); err != nil {
				fail("npl write: %v", err)
			}
		}
	case "":
		commands(&a, users, read)
	default:
		fail("unknown mode %q", mode)
	}
}

// commands runs the command contract: each input is "cmd:arg".
func commands(a *hpArgs, users []user, read func([2]int64) []byte) {
	for _, u := range users {
		for _, sp := range u.inputs {
			msg := string(read(sp))
			if a.Readonly {
				send(u.out, []byte("ro1:"+msg))
				send(u.out, []byte("ro2:"+msg))
				continue
			}
			cmd, arg, _ := strings.Cut(msg, ":")
			switch cmd {
			case "echo":
				send(u.out, []byte("echo:"+arg))
			case "ctx":
				var us [][]any
				for _, x := range users {
					us = append(us, []any{x.key, len(x.inputs)})
				}
				var unl [][]any
				for k, v := range a.UNL {
					unl = append(unl, []any{k, v.ActiveOn})
				}
				sort.Slice(unl, func(i, j int) bool { return unl[i][0].(string) < unl[j][0].(string) })
				b, _ := json.Marshal(map[string]any{
					"contractId": a.ContractID, "publicKey": a.PublicKey, "privateKey": a.PrivateKey,
					"timestamp": a.Timestamp, "readonly": a.Readonly, "lclSeqNo": a.LCLSeq, "lclHash": a.LCLHash,
					"users": us, "unl": unl, "hpVersion": a.HPVersion,
				})
				send(u.out, b)
			case "write":
				name, content, _ := strings.Cut(arg, ":")
				if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
					fail("write: %v", err)
				}
				send(u.out, []byte("wrote:"+name))
			case "read":
				b, err := os.ReadFile(arg)
				if err != nil {
					fail("read: %v", err)
				}
				send(u.out, []byte("read:"+string(b)))
			case "config":
				b, err := os.ReadFile("../patch.cfg")
				if err != nil {
					fail("read patch.cfg: %v", err)
				}
				var cfg map[string]any
				if err := json.Unmarshal(b, &cfg); err != nil {
					fail("parse patch.cfg: %v", err)
				}
				cfg["version"] = arg
				b, _ = json.MarshalIndent(cfg, "", "    ")
				if err := os.WriteFile("../patch.cfg", b, 0o644); err != nil {
					fail("write patch.cfg: %v", err)
				}
				send(u.out, []byte("config:"+arg))
			case "peers":
				ctl := os.NewFile(uintptr(a.ControlFd), "control")
				ctl.Write([]byte(`{"type":"peer_changeset","add":["10.0.0.1:22860","10.0.0.3:22860"],"remove":["10.0.0.2:22860"]}`))
				send(u.out, []byte("peers:sent"))
			case "npl":
				send(u.out, npl(a))
			case "postexec":
				script := "#!/bin/sh\necho \"$1\" > post_exec.out\nexit " + arg + "\n"
				os.WriteFile("post_exec.sh", []byte(script), 0o755)
				send(u.out, []byte("postexec:written"))
			default:
				send(u.out, []byte("unknown:"+msg))
			}
		}
	}
}

// npl sends one message to the UNL and collects one from each UNL member (sender key packet, then
// data packet).
func npl(a *hpArgs) []byte {
	f := os.NewFile(uintptr(*a.NPLFd), "npl")
	if _, err := f.Write([]byte("npl from " + a.PublicKey)); err != nil {
		fail("npl send: %v", err)
	}
	var got [][2]string
	buf := make([]byte, 128*1024)
	for len(got) < len(a.UNL) {
		n, err := f.Read(buf)
		if err != nil {
			fail("npl read key: %v", err)
		}
		from := string(buf[:n])
		n, err = f.Read(buf)
		if err != nil {
			fail("npl read data: %v", err)
		}
		got = append(got, [2]string{from, string(buf[:n])})
	}
	sort.Slice(got, func(i, j int) bool { return got[i][0]+got[i][1] < got[j][0]+got[j][1] })
	b, _ := json.Marshal(map[string]any{"npl": got})
	return b
}

func send(f *os.File, msg []byte) error {
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(msg)), uint32(len(msg)))
	_, err := f.Write(append(frame, msg...))
	return err
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gocontract: "+format+"\n", args...)
	os.Exit(1)
}
