package hpfs

import (
	"os"
	"path/filepath"
	"strings"
)

// Some kernels (this project's Firecracker guests run one) carry a fuse module parameter,
// wake_here, that is not in mainline. With it at Y a FUSE request and its reply wake the
// other side on the CPU that is already running, instead of waking a halted vCPU: measured on
// a 2-vCPU guest with no cpuidle polling (driver "none"), stat after create+write went from
// 24,200–24,600/s to 31,000–33,200/s (20,000 files, alternating runs). Like halt polling it
// is the host operator's setting: the daemon reports it and never changes it.

// ReadFuseWakeHere returns the fuse module's wake_here parameter under sysfs (normally
// "/sys"): "Y" or "N", or "" when this kernel has no such parameter.
func ReadFuseWakeHere(sysfs string) string {
	b, err := os.ReadFile(filepath.Join(sysfs, "module/fuse/parameters/wake_here"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// MachineLatency describes the settings every FUSE round trip's latency depends on, for the
// benchmark's header and the daemon's start-up log.
func MachineLatency(sysfs string) string {
	s := ReadHaltPoll(sysfs).String()
	if w := ReadFuseWakeHere(sysfs); w != "" {
		s += ", fuse wake_here=" + w
	}
	return s
}
