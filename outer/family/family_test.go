package family

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
)

// Every family a plan may name has a Family, whose tool is the command
// preflight looks for; another name is refused with the list.
func TestEveryPlanFamilyHasOne(t *testing.T) {
	tools := map[string]string{"ostree": "ostree", "rpm-ostree": "rpm-ostree", "bootc": "bootc"}
	for _, name := range plan.Families {
		f, err := New(name, Config{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Name() != name || f.Tool() != tools[name] {
			t.Errorf("%s: name %s, tool %s, want tool %s", name, f.Name(), f.Tool(), tools[name])
		}
	}
	if _, err := New("dnf", Config{}); err == nil || !strings.Contains(err.Error(), "rpm-ostree, ostree, bootc") {
		t.Errorf("unknown family: %v", err)
	}
}

// The bootc plan switches back to the image the bootc family's upgrade
// source copied the booted one to.
func TestBootcPlanSwitchesToTheBaseImage(t *testing.T) {
	for _, s := range plan.Bootc().Steps {
		for _, a := range s.Actions {
			if a.Changes == plan.ChangeOlder && !slices.Contains(a.Command, BootcBaseImage) {
				t.Errorf("step %s: %v does not switch to %s", s.Name, a.Command, BootcBaseImage)
			}
		}
	}
}

// {upgrade_version} is the version of what the family's upgrade source
// made last, and an error before it made anything.
func TestUpgradeVersionPlaceholder(t *testing.T) {
	for _, name := range plan.Families {
		f, _ := New(name, Config{})
		if _, ok, err := f.Placeholder(context.Background(), "{upgrade_version}"); !ok || err == nil {
			t.Errorf("%s before an upgrade source: ok %v, err %v", name, ok, err)
		}
		if _, ok, _ := f.Placeholder(context.Background(), "{package}"); ok {
			t.Errorf("%s claims {package}, the plan's", name)
		}
	}
	b := &bootcFamily{upgrade: &bootcImage{Version: "42.selftest.2"}}
	if v, ok, err := b.Placeholder(context.Background(), "{upgrade_version}"); v != "42.selftest.2" || !ok || err != nil {
		t.Errorf("bootc after a build: %q %v %v", v, ok, err)
	}
}
