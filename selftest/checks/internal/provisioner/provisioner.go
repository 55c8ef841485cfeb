// Package provisioner tells which first-boot provisioner configured the
// host, Ignition or cloud-init, so that the checks of each skip, with a
// reason that names the other, on a host the other provisioned.
package provisioner

import (
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// IgnitionResult is the file Ignition's files stage writes when it
// succeeds (coreos/ignition internal/distro/distro.go ResultFilePath;
// written by createResultFile in internal/exec/stages/files/
// filesystemEntries.go).
const IgnitionResult = "/etc/.ignition-result.json"

// Ignition says whether Ignition provisioned the host and how that was
// seen: its result file, or ignition.firstboot / ignition.platform.id= on
// the kernel command line (set by the image's boot entries on Fedora
// CoreOS and Ignition-based IoT and bootc images). It returns "" when
// there is no sign of Ignition.
func Ignition(h *selftest.Host) string {
	if h.Exists(IgnitionResult) {
		return IgnitionResult + " exists"
	}
	if w := IgnitionKernelArg(h); w != "" {
		return w + " is on the kernel command line"
	}
	return ""
}

// IgnitionKernelArg returns the first ignition.firstboot or
// ignition.platform.id= word of /proc/cmdline, "" when there is none or
// the host is offline.
func IgnitionKernelArg(h *selftest.Host) string {
	if h.Offline {
		return ""
	}
	b, err := h.ReadFile("/proc/cmdline", rootfs.Kernel)
	if err != nil {
		return ""
	}
	for _, w := range strings.Fields(string(b)) {
		if w == "ignition.firstboot" || strings.HasPrefix(w, "ignition.platform.id=") {
			return w
		}
	}
	return ""
}

// CloudInit says whether cloud-init configured the host: its state
// directory /var/lib/cloud, or its program. "" when neither is there.
func CloudInit(h *selftest.Host) string {
	for _, p := range []string{"/var/lib/cloud", "/usr/bin/cloud-init"} {
		if h.Exists(p) {
			return p + " exists"
		}
	}
	return ""
}
