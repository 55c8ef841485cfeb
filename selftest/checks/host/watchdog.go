package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
	"github.com/atomic-selftest/atomic-selftest/selftest/sysfmt"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.watchdog",
		Criterion:   "HOST",
		Required:    true,
		Description: "no hardware watchdog reset the machine into this boot (WDIOF_CARDRESET in /sys/class/watchdog/*/bootstatus)",
		Timeout:     10 * time.Second,
		Applies:     needWatchdog,
		Run:         checkWatchdog,
	})
}

const watchdogClass = "/sys/class/watchdog"

// needWatchdog skips a host with no watchdog device in sysfs.
func needWatchdog(_ context.Context, rc *selftest.RunContext) string {
	if ents, err := rc.ReadDir(watchdogClass); err != nil || len(ents) == 0 {
		return "no watchdog device on this host (" + watchdogClass + " is empty or missing)"
	}
	return ""
}

// checkWatchdog reads every watchdog's bootstatus. A driver that saw its
// card reset the machine sets WDIOF_CARDRESET there for the boot that
// followed (linux include/uapi/linux/watchdog.h): the deployment this
// boot started from hung hard enough that nothing pinged the watchdog.
// A driver that does not report boot status has no bootstatus file.
func checkWatchdog(_ context.Context, t *selftest.T) {
	ents, err := t.Host.ReadDir(watchdogClass)
	if err != nil {
		t.Error("%v", err)
		return
	}
	var problems []string
	read := 0
	for _, e := range ents {
		p := path.Join(watchdogClass, e.Name(), "bootstatus")
		b, err := t.Host.ReadFile(p, rootfs.Kernel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Error("%v", err)
			return
		}
		v, err := sysfmt.ParseBootstatus(b)
		if err != nil {
			t.Error("%s: %v", p, err)
			return
		}
		read++
		t.Evidence(p, "WDIOF_CARDRESET (0x20) clear", fmt.Sprintf("%d (0x%x)", v, v))
		if v&sysfmt.WDIOFCardReset != 0 {
			problems = append(problems, fmt.Sprintf("%s reset the machine into this boot (%s = 0x%x)", e.Name(), p, v))
		}
	}
	if read == 0 {
		t.Skip("no watchdog of %d reports its boot status (no bootstatus under %s)", len(ents), watchdogClass)
		return
	}
	t.Conclude(problems, "no watchdog reset the machine into this boot (%d watchdog(s) report their boot status)", read)
}
