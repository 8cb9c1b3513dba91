package hpfs

import (
	"strings"
	"testing"
)

func TestParseStatusGroups(t *testing.T) {
	status := "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 27 1000 \nNSpid:\t1\n"
	got, err := parseStatusGroups([]byte(status))
	if err != nil || len(got) != 4 || got[0] != 4 || got[3] != 1000 {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := parseStatusGroups([]byte("Groups:\t\n")); err != nil || len(got) != 0 {
		t.Fatalf("no groups: %v, %v", got, err)
	}
	for name, bad := range map[string]string{
		"no line":   "Name:\tsh\n",
		"not a num": "Groups:\t4 x\n",
		"too big":   "Groups:\t4294967296\n",
		"negative":  "Groups:\t-1\n",
		"too many":  "Groups:" + strings.Repeat(" 1", maxGroups+1) + "\n",
	} {
		if _, err := parseStatusGroups([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCallerMayFollowsModeClasses: the owner, group and other bits each decide for their class
// and no other; root needs an x bit only to execute a file.
func TestCallerMayFollowsModeClasses(t *testing.T) {
	const owner, group = 1000, 1000
	for _, tc := range []struct {
		c     caller
		mode  uint32
		want  uint32
		isDir bool
		ok    bool
	}{
		{caller{uid: 1000, gid: 5}, 0o400, permR, false, true},
		{caller{uid: 1000, gid: 1000}, 0o044, permR, false, false}, // owner bits decide for the owner
		{caller{uid: 7, gid: 1000}, 0o040, permR, false, true},
		{caller{uid: 7, gid: 1000}, 0o404, permR, false, false}, // group bits decide for the group
		{caller{uid: 7, gid: 9}, 0o004, permR, false, true},
		{caller{uid: 7, gid: 9}, 0o006, permR | permW, false, true},
		{caller{uid: 7, gid: 9}, 0o004, permR | permW, false, false},
		{caller{uid: 0}, 0o000, permR | permW, false, true},
		{caller{uid: 0}, 0o644, permX, false, false},
		{caller{uid: 0}, 0o100, permX, false, true},
		{caller{uid: 0}, 0o000, permX, true, true},
	} {
		if got := tc.c.may(tc.mode, owner, group, tc.want, tc.isDir); got != tc.ok {
			t.Errorf("%+v mode %o want %o dir %v: %v", tc.c, tc.mode, tc.want, tc.isDir, got)
		}
	}
}

func FuzzParseStatusGroups(f *testing.F) {
	f.Add([]byte("Groups:\t4 24 27 1000 \n"))
	f.Add([]byte("Name:\tx\nGroups:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseStatusGroups(b)
		if err == nil && len(g) > maxGroups {
			t.Fatalf("%d groups", len(g))
		}
	})
}
