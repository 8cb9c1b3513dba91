package fsbench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseWorkerOutputReadsFSBenchLines(t *testing.T) {
	out := []byte(`{"seconds": 0.5, "files_per_s": 4000.0, "workload": "create"}` + "\n" +
		`{"seconds": 0.25, "stats_per_s": 8000.0, "workload": "stat"}` + "\n")
	d, err := parseWorkerOutput(out, "stat")
	if err != nil || d != 250*time.Millisecond {
		t.Fatalf("stat: %v, %v; want 250ms", d, err)
	}
}

func TestParseWorkerOutputRejectsBadInput(t *testing.T) {
	for _, tc := range []struct{ name, out, want string }{
		{"empty", "", "no result"},
		{"other workload only", `{"workload":"seq","seconds":1}`, "no result"},
		{"not json", "Traceback (most recent call last):", "worker output"},
		{"no seconds", `{"workload":"stat"}`, "no seconds"},
		{"zero", `{"workload":"stat","seconds":0}`, "bad duration"},
		{"negative", `{"workload":"stat","seconds":-1}`, "bad duration"},
		{"below a nanosecond", `{"workload":"stat","seconds":1e-12}`, "bad duration"},
		{"huge", `{"workload":"stat","seconds":1e300}`, "bad duration"},
		{"string seconds", `{"workload":"stat","seconds":"1"}`, "worker output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWorkerOutput([]byte(tc.out), "stat")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestWorkPrintsWhatTheParserReads runs a real workload through Work and parses its line.
func TestWorkPrintsWhatTheParserReads(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Work("create2000", dir, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := parseWorkerOutput(out.Bytes(), "create2000"); err != nil {
		t.Fatalf("%v in %q", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "many2000", "f1999")); err != nil {
		t.Fatal(err)
	}
	if err := Work("nosuch", dir, &out); err == nil || !strings.Contains(err.Error(), "unknown workload") {
		t.Fatalf("unknown workload: %v", err)
	}
}

// TestCommandRunnerReportsAFailingWorker: a worker that exits non-zero is an error naming it
// with its stderr, never a number.
func TestCommandRunnerReportsAFailingWorker(t *testing.T) {
	run := commandRunner([]string{"/bin/sh", "-c", "echo boom >&2; exit 3", "sh"})
	_, err := run("stat", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err %v, want the worker's stderr", err)
	}
}

func FuzzParseWorkerOutput(f *testing.F) {
	f.Add([]byte(`{"workload":"stat","seconds":0.1}`))
	f.Add([]byte("{\"workload\":\"seq\",\"seconds\":1}\n{\"workload\":\"stat\",\"seconds\":2e-9}\n"))
	f.Add([]byte(`{"workload":"stat","seconds":null}`))
	f.Fuzz(func(t *testing.T, out []byte) {
		d, err := parseWorkerOutput(out, "stat")
		if err == nil && (d <= 0 || d > maxSeconds*time.Second) {
			t.Fatalf("accepted duration %v", d)
		}
	})
}
