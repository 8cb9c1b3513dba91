package contractexec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// TestStdinJSONIsHotPocketShaped pins the exact bytes: key order, omitted fields, users sorted by
// binary key with [fd, [offset,length]...], unl with active_on. It is checked against what a real
// Go contract reads from its stdin, so the test also proves the parent writes it whole.
func TestStdinJSONIsHotPocketShaped(t *testing.T) {
	s := baseSpec(t, kindGo, newContractDir(t), "stdinjson")
	s.Users = []User{
		{PublicKey: testKey(2), Inputs: inputs("hello", "")},
		{PublicKey: testKey(1), Inputs: inputs("x")},
	}
	res := run(t, s)
	want := `{"hp_version":"0.6.4","contract_id":"e295b46c-4842-4933-993d-15933f388c42",` +
		`"public_key":"` + testKey(0xaa) + `","private_key":"` + testPrivKey + `",` +
		`"timestamp":1700000000123,"readonly":false,"lcl_seq_no":42,"lcl_hash":"` + s.LCLHash + `",` +
		`"npl_fd":5,"control_fd":4,"user_in_fd":3,` +
		`"users":{"` + testKey(1) + `":[7,[4096,1]],"` + testKey(2) + `":[6,[0,5],[4096,0]]},` +
		`"unl":{"` + testKey(0xaa) + `":{"active_on":1700000000001},"` + testKey(0xbb) + `":{"active_on":1700000000002}}}`
	if got := frames(res, 1); len(got) != 1 || got[0] != want {
		t.Fatalf("stdin JSON\n got %q\nwant %q", got, want)
	}
}

func TestStdinJSONReadonlyOmitsLCLAndNPL(t *testing.T) {
	s := baseSpec(t, kindGo, newContractDir(t), "stdinjson")
	s.Readonly = true
	s.Users = []User{{PublicKey: testKey(1), Inputs: inputs("req")}}
	res := run(t, s)
	want := `{"hp_version":"0.6.4","contract_id":"e295b46c-4842-4933-993d-15933f388c42",` +
		`"public_key":"` + testKey(0xaa) + `","private_key":"` + testPrivKey + `",` +
		`"timestamp":0,"readonly":true,"control_fd":4,"user_in_fd":3,` +
		`"users":{"` + testKey(1) + `":[5,[0,3]]},` +
		`"unl":{"` + testKey(0xaa) + `":{"active_on":1700000000001},"` + testKey(0xbb) + `":{"active_on":1700000000002}}}`
	if got := frames(res, 0); len(got) != 1 || got[0] != want {
		t.Fatalf("stdin JSON\n got %q\nwant %q", got, want)
	}
}

func TestStdinJSONEscapesStrings(t *testing.T) {
	s := Spec{ContractID: "a\"b\\c\n", Users: []User{{PublicKey: "k\"ey"}}}
	l := layout{userInFd: 3, controlFd: 4, nplFd: 5, userFds: []int{6}, inputs: [][]span{nil}, order: []int{0}}
	var v map[string]any
	if err := json.Unmarshal(encodeArgs(&s, &l), &v); err != nil || v["contract_id"] != s.ContractID {
		t.Fatalf("not valid JSON or wrong id: %v %v", err, v["contract_id"])
	}
}

func TestInputsAreFourKiBAligned(t *testing.T) {
	users := []User{
		{PublicKey: "a", Inputs: [][]byte{make([]byte, 1), make([]byte, 4096), make([]byte, 4097), {}, make([]byte, 10)}},
		{PublicKey: "b", Inputs: [][]byte{[]byte("z")}},
	}
	f, spans, err := writeInputs(users)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := [][]span{{{0, 1}, {4096, 4096}, {8192, 4097}, {16384, 0}, {16384, 10}}, {{20480, 1}}}
	if fmt.Sprint(spans) != fmt.Sprint(want) {
		t.Fatalf("spans %v, want %v", spans, want)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 20480); err != nil || b[0] != 'z' {
		t.Fatalf("pread at 20480: %q %v", b, err)
	}
}

// TestLargeArguments runs 5,000 users with 20,000 inputs: with HotPocket's 66-character keys the
// stdin JSON is about 640 KB, ten times the 64 KiB pipe buffer HotPocket's child-side write blocks
// on; there are 10,000 sockets, and every input must come back to its own user in order.
func TestLargeArguments(t *testing.T) {
	s := baseSpec(t, kindGo, newContractDir(t), "echoall")
	for u := range 5000 {
		key := fmt.Sprintf("ed%064x", u*7919)
		s.Users = append(s.Users, User{PublicKey: key, Inputs: inputs(
			fmt.Sprintf("u%d-0", u), fmt.Sprintf("u%d-1", u), fmt.Sprintf("u%d-2", u), fmt.Sprintf("u%d-3", u))})
	}
	e, err := prepare(&s)
	if err != nil {
		t.Fatal(err)
	}
	size := len(e.args)
	e.closeParentEnds()
	e.closeChildEnds()
	if size < 512<<10 {
		t.Fatalf("stdin JSON is %d bytes, want > 512 KiB", size)
	}
	res, err := Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Exit.Normal() || res.StdinUnread {
		t.Fatalf("%s stderr %q", res.Summary(), res.StderrHead)
	}
	for u, out := range res.Users {
		for i, f := range out.Frames {
			if want := fmt.Sprintf("u%d-%d", u, i); string(f) != want {
				t.Fatalf("user %d frame %d = %q, want %q", u, i, f, want)
			}
		}
		if len(out.Frames) != 4 {
			t.Fatalf("user %d got %d frames", u, len(out.Frames))
		}
	}
	t.Logf("5000 users, 20000 inputs, %d bytes of JSON: %v", size, res.Elapsed)
}

// TestStdinJSONOverOneMB sends 1.2 MB of arguments (200,000 empty inputs, which take no memfd
// pages) to a contract that returns its stdin as one frame: it must arrive whole and byte-exact.
func TestStdinJSONOverOneMB(t *testing.T) {
	s := baseSpec(t, kindGo, newContractDir(t), "stdinjson")
	for u := range 2 {
		s.Users = append(s.Users, User{PublicKey: testKey(byte(u + 1)), Inputs: make([][]byte, 100000)})
	}
	e, err := prepare(&s)
	if err != nil {
		t.Fatal(err)
	}
	want := e.args
	e.closeChildEnds()
	e.closeParentEnds()
	if len(want) < 1<<20 {
		t.Fatalf("stdin JSON is %d bytes, want > 1 MiB", len(want))
	}
	res := run(t, s)
	if !res.Exit.Normal() || res.StdinUnread {
		t.Fatalf("%s stderr %q", res.Summary(), res.StderrHead)
	}
	got := res.Users[0].Frames
	if len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("contract got %d frames, first %d bytes; want the %d-byte JSON", len(got), len(got[0]), len(want))
	}
}
