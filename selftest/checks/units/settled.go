package units

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "units.settled",
		Criterion:   "HOST",
		Required:    false,
		Description: "no unit is still activating that began before the default target was reached (a boot that only looks finished)",
		Timeout:     60 * time.Second,
		Applies:     selftest.NeedSystemd,
		Run:         checkSettled,
	})
}

// checkSettled compares each activating unit's start (its
// InactiveExitTimestampMonotonic) with the moment the default target
// became active. A unit that began activating after it (cloud-final, the
// self-test itself, a timer's job) is the boot going on, not stuck; one
// that began before and is still activating is what kola's
// checkSystemdUnitStuck catches: a start that never completes. A unit
// waiting to restart (sub state auto-restart) is units.restarts's.
func checkSettled(ctx context.Context, t *selftest.T) {
	sd, err := t.Host.Systemd(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	m, tu, err := selftest.DefaultTarget(ctx, sd)
	if err != nil {
		t.Error("%v", err)
		return
	}
	target := m.DefaultTarget
	if tu.ActiveState != "active" || tu.ActiveEnterUsec == 0 {
		t.Skip("the default target %s is %s: the boot has not reached it yet (host.boot judges that)", target, tu.ActiveState)
		return
	}
	all, err := sd.ListUnits(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	var problems, later []string
	for _, u := range all {
		if u.ActiveState != "activating" || ignored(t, u.Name) {
			continue
		}
		full, err := sd.Unit(ctx, u.Name)
		if err != nil {
			t.Error("%v", err)
			return
		}
		switch {
		case full.SubState == "tentative":
			// A device systemd saw in mountinfo or swap before udev
			// announced it (device_found "tentative", systemd
			// src/core/device.c): no job runs for it and nothing waits
			// on it. The testbed VM's virtio NIC stays so for the whole
			// boot, and every boot was failed for it.
			continue
		case full.SubState == "auto-restart":
			later = append(later, u.Name+" (waiting to restart: units.restarts)")
		case full.InactiveExitUsec != 0 && full.InactiveExitUsec < tu.ActiveEnterUsec:
			before := time.Duration(tu.ActiveEnterUsec-full.InactiveExitUsec) * time.Microsecond
			msg := fmt.Sprintf("%s is still activating (%s), begun %s before %s was reached", u.Name, full.SubState, before.Round(time.Millisecond), target)
			t.Evidence(u.Name, "active, or activating only since "+target, fmt.Sprintf("activating (%s) since %.1f s after the kernel started", full.SubState, float64(full.InactiveExitUsec)/1e6))
			problems = append(problems, msg)
		default:
			later = append(later, u.Name)
		}
	}
	if len(later) > 0 {
		t.Detail("activating_since_target", later)
	}
	t.Conclude(problems, "no unit of %d is still activating from before %s was reached (%d activating since)", len(all), target, len(later))
}

// ignored is a unit the units.* checks leave out: [units] ignore, and the
// self-test's own units, which are activating while they run it.
func ignored(t *selftest.T, unit string) bool {
	return strings.HasPrefix(unit, "atomic-selftest") || slices.Contains(t.Config.Units.Ignore, unit)
}
