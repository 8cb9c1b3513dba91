package contractexec

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultPath is the PATH a contract gets when its configured environment has none. HotPocket gives
// the contract no PATH at all, so a contract that runs `sh` or `node` by name fails there; hpnode
// gives it the standard system directories.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// contractPath returns DefaultPath plus the directory of the node binary found on the node's own
// PATH, when that directory is not already in DefaultPath (nvm or /opt installs).
func contractPath() string {
	p := DefaultPath
	if node, err := exec.LookPath("node"); err == nil {
		if abs, err := filepath.Abs(node); err == nil {
			dir := filepath.Dir(abs)
			if !strings.Contains(":"+p+":", ":"+dir+":") {
				p += ":" + dir
			}
		}
	}
	return p
}

// contractEnv is the configured environment plus PATH when it has none. Nothing of the node's own
// environment is inherited, as in HotPocket: the contract sees only what the configuration says.
func contractEnv(env []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return out
		}
	}
	return append(out, "PATH="+contractPath())
}
