package hpfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadHaltPollReportsSetting(t *testing.T) {
	write := func(t *testing.T, root, rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const driver, pollNs = "devices/system/cpu/cpuidle/current_driver", "module/haltpoll/parameters/guest_halt_poll_ns"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		want    HaltPoll
		wantOff bool
	}{
		{"haltpoll off", map[string]string{driver: "haltpoll\n", pollNs: "0\n"}, HaltPoll{"haltpoll", 0}, true},
		{"haltpoll polling", map[string]string{driver: "haltpoll\n", pollNs: "200000\n"}, HaltPoll{"haltpoll", 200000}, false},
		{"other driver", map[string]string{driver: "intel_idle\n"}, HaltPoll{"intel_idle", -1}, false},
		{"no sysfs", nil, HaltPoll{"", -1}, false},
		{"garbage value", map[string]string{driver: "haltpoll", pollNs: "-5x"}, HaltPoll{"haltpoll", -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for rel, c := range tc.files {
				write(t, root, rel, c)
			}
			got := ReadHaltPoll(root)
			if got != tc.want || got.Off() != tc.wantOff {
				t.Fatalf("ReadHaltPoll = %+v (off %v), want %+v (off %v)", got, got.Off(), tc.want, tc.wantOff)
			}
			if got.String() == "" {
				t.Fatal("empty description")
			}
		})
	}
}

func TestMachineLatencyReportsFuseWakeHere(t *testing.T) {
	root := t.TempDir()
	if got := ReadFuseWakeHere(root); got != "" {
		t.Fatalf("no parameter: got %q, want empty", got)
	}
	if got := MachineLatency(root); strings.Contains(got, "wake_here") {
		t.Fatalf("no parameter: %q mentions wake_here", got)
	}
	p := filepath.Join(root, "module/fuse/parameters/wake_here")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("N\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ReadFuseWakeHere(root); got != "N" {
		t.Fatalf("got %q, want N", got)
	}
	if got := MachineLatency(root); !strings.HasSuffix(got, ", fuse wake_here=N") {
		t.Fatalf("MachineLatency = %q", got)
	}
}
