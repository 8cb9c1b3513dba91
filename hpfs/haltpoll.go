package hpfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Every FUSE request is a round trip between two threads, and on two idle vCPUs each direction
// wakes a halted CPU. On a KVM guest whose cpuidle driver is haltpoll, the governor polls for up
// to guest_halt_poll_ns before it halts; with it at 0 a wake-up goes through the host's
// scheduler. Measured on this project's 2-vCPU VM (provisioned with 0), per request:
// stat after write 36–48 µs mean → 14–22 µs with 200000 (the kernel's default), a 5-byte pwrite
// 25–34 µs → 12–18 µs; forcing client and daemon onto different CPUs costs 81–87 µs. The
// setting is the host operator's: the daemon reports it and never changes it.

// HaltPoll is the guest halt-polling setting of this machine.
type HaltPoll struct {
	Driver string // the cpuidle driver ("haltpoll", "intel_idle", ...); empty if unknown
	// PollNs is guest_halt_poll_ns: how long an idle vCPU polls before it halts; -1 when it
	// cannot be read. Meaningful only when Driver is "haltpoll".
	PollNs int64
}

// Off reports whether idle vCPUs halt at once on a guest that could poll instead.
func (h HaltPoll) Off() bool { return h.Driver == "haltpoll" && h.PollNs == 0 }

func (h HaltPoll) String() string {
	switch {
	case h.Driver == "":
		return "cpuidle driver unknown"
	case h.Driver != "haltpoll":
		return "cpuidle " + h.Driver
	case h.PollNs < 0:
		return "cpuidle haltpoll, guest_halt_poll_ns unknown"
	default:
		return fmt.Sprintf("cpuidle haltpoll, guest_halt_poll_ns=%d", h.PollNs)
	}
}

// ReadHaltPoll reads the setting under sysfs (normally "/sys"). Missing files mean "unknown",
// not an error: bare metal and other hypervisors have no haltpoll driver.
func ReadHaltPoll(sysfs string) HaltPoll {
	h := HaltPoll{PollNs: -1}
	if b, err := os.ReadFile(filepath.Join(sysfs, "devices/system/cpu/cpuidle/current_driver")); err == nil {
		h.Driver = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(sysfs, "module/haltpoll/parameters/guest_halt_poll_ns")); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n >= 0 {
			h.PollNs = n
		}
	}
	return h
}

// HaltPollAdvice is the operator's fix when Off reports true.
const HaltPollAdvice = "echo 200000 > /sys/module/haltpoll/parameters/guest_halt_poll_ns (the kernel's default)"
