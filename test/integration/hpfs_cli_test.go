package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpfs/hpnode/hpfs"
)

// TestHpfsdCommandLine drives every subcommand of the contract through the real binary: a second
// daemon on a locked store fails clearly, import/export round-trip a directory, and the session,
// hash, ls, versions and diff commands work against a running daemon.
func TestHpfsdCommandLine(t *testing.T) {
	bin, err := hpfsdBin()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	store := filepath.Join(work, "store")
	src := filepath.Join(work, "bundle")
	if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "contract.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "lib", "data"), []byte("payload"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("lib/data", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	var imported hpfs.CommitInfo
	out, err := exec.Command(bin, "import", "--store", store, src, "--json").Output()
	if err != nil {
		t.Fatalf("import: %v %s", err, exitStderr(err))
	}
	mustJSON(t, out, &imported)

	logf, err := os.Create(filepath.Join(work, "hpfsd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p := &hpfsdProc{t: t, bin: bin, store: store, mount: filepath.Join(work, "mnt"), log: logf}
	p.start()
	defer p.stop()

	second := exec.Command(bin, "serve", "--store", store, "--mount", filepath.Join(work, "mnt2"))
	msg, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "locked") {
		t.Fatalf("second daemon on a locked store: err %v, output %q; want a non-zero exit saying locked", err, msg)
	}
	b, err := os.ReadFile(filepath.Join(p.mount, "current", "state", "lib", "data"))
	if err != nil || string(b) != "payload" {
		t.Fatalf("imported file: %q %v", b, err)
	}

	p.cli(&hpfs.VersionInfo{}, "rw", "begin", "--store", store)
	if err := os.WriteFile(filepath.Join(p.mount, "rw", "state", "new"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var c hpfs.CommitInfo
	p.cli(&c, "rw", "commit", "--store", store)
	var diff []hpfs.DiffEntry
	p.cli(&diff, "diff", imported.Root, c.Root, "--store", store)
	if len(diff) != 1 || diff[0].Path != "state/new" || diff[0].Kind != hpfs.DiffAdded {
		t.Fatalf("diff = %+v, want state/new added", diff)
	}
	var ls []hpfs.EntryInfo
	p.cli(&ls, "ls", "state", "--hashes", "--store", store)
	if len(ls) != 4 {
		t.Fatalf("ls state = %+v, want 4 entries", ls)
	}
	var vs []hpfs.VersionInfo
	p.cli(&vs, "versions", "--store", store)
	if len(vs) < 3 || vs[len(vs)-1].Root != c.Root {
		t.Fatalf("versions = %+v", vs)
	}
	p.cli(&hpfs.VersionInfo{}, "ro", "open", "old", "--version", imported.Root, "--store", store)
	if _, err := os.Stat(filepath.Join(p.mount, "old", "state", "new")); !os.IsNotExist(err) {
		t.Fatalf("ro session at the imported version sees a later file: %v", err)
	}
	var empty struct{}
	p.cli(&empty, "ro", "close", "old", "--store", store)
	if err := exec.Command(bin, "rw", "commit", "--store", store).Run(); err == nil {
		t.Fatal("rw commit without a session succeeded")
	}
	if err := p.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	dest := filepath.Join(work, "export")
	if out, err := exec.Command(bin, "export", "--store", store, "--version", c.Root, dest).CombinedOutput(); err != nil {
		t.Fatalf("export: %v %s", err, out)
	}
	var scratch struct{ Root string }
	out, err = exec.Command(bin, "hash", "--dir", dest, "--json").Output()
	if err != nil {
		t.Fatalf("hash --dir: %v", err)
	}
	mustJSON(t, out, &scratch)
	if scratch.Root != c.Root {
		t.Fatalf("exported tree hashes to %s, version %s", scratch.Root, c.Root)
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := jsonUnmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}
