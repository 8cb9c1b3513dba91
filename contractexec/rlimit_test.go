package contractexec

import (
	"slices"
	"strings"
	"testing"
)

func TestRlimitCommands(t *testing.T) {
	for _, tc := range []struct {
		l     Limits
		topFd int
		want  []string
	}{
		{Limits{}, 10, nil},
		{Limits{CPUSeconds: 3}, 10, []string{"ulimit -S -t 3", "ulimit -H -t 4"}},
		{Limits{MemoryBytes: 1000}, 10, []string{"ulimit -d 1"}},
		{Limits{MemoryBytes: 1 << 20}, 10, []string{"ulimit -d 1024"}},
		{Limits{OpenFiles: 64}, 10, []string{"ulimit -n 74"}},
		{Limits{}, 1000, []string{`ulimit -S -n "$(ulimit -H -n)"`}},
	} {
		if got := rlimitCommands(tc.l, tc.topFd); !slices.Equal(got, tc.want) {
			t.Errorf("%+v top %d: %q, want %q", tc.l, tc.topFd, got, tc.want)
		}
	}
}

func TestWrapArgvKeepsContractArgv0(t *testing.T) {
	path, argv := wrapArgv(nil, "/bin/contract", []string{"a", "b c"})
	if path != "/bin/contract" || !slices.Equal(argv, []string{"/bin/contract", "a", "b c"}) {
		t.Fatalf("%s %q", path, argv)
	}
	path, argv = wrapArgv([]string{"ulimit -t 1"}, "/bin/contract", []string{"a"})
	if path != rlimitShell || argv[3] != "/bin/contract" || argv[4] != "a" || !strings.HasSuffix(argv[2], `exec "$0" "$@"`) {
		t.Fatalf("%s %q", path, argv)
	}
}

func TestContractEnvironment(t *testing.T) {
	got := contractEnv([]string{"A=1"})
	if len(got) != 2 || got[0] != "A=1" || !strings.HasPrefix(got[1], "PATH="+DefaultPath) {
		t.Fatalf("env %q", got)
	}
	if got := contractEnv([]string{"PATH=/x"}); !slices.Equal(got, []string{"PATH=/x"}) {
		t.Fatalf("configured PATH replaced: %q", got)
	}
}
