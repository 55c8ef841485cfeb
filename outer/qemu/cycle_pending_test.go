package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// pendingTreeStep is the cycle's step (outer/testbed/ostree-cycle.toml)
// that deploys the testbed's 12.6, whose /etc/docker/daemon.json is not
// JSON (build.sh, "issue 26" block), and must see the host's
// deployment-change run catch it before any reboot.
const pendingTreeStep = "ostree-bad-daemon-json-caught"

// onlyPendingTree is E2E_VM_ONLY=pending-tree: TestCycleTestbed boots
// the VM and runs only this step, to iterate on it in a few minutes.
func onlyPendingTree() bool { return os.Getenv("E2E_VM_ONLY") == "pending-tree" }

// pendingTreeOnTestbed is issue 26's pending-tree proof on the cycle's VM,
// on whatever boot the cycle is on and with no reboot of its own: the
// driver deploys 12.6; the host's deployment-change run judges the pending
// deployment's checked-out tree and merged /etc with the offline checks,
// and its deployment.pending must fail naming storage.config and
// /etc/docker/daemon.json; the step passes as "caught before the reboot",
// undeploys 12.6 and leaves the boot as it found it.
func pendingTreeOnTestbed(t *testing.T, m *Machine) {
	t.Helper()
	ctx := context.Background()
	pl, err := outer.LoadPlan(filepath.Join("..", "testbed", "ostree-cycle.toml"))
	if err != nil {
		t.Fatal(err)
	}
	pl.Steps = slices.DeleteFunc(pl.Steps, func(s outer.Step) bool { return s.Name != pendingTreeStep })
	if len(pl.Steps) != 1 {
		t.Fatalf("ostree-cycle.toml has no step %s", pendingTreeStep)
	}
	if onlyPendingTree() {
		// Straight after the boot: let its own run finish first, as the
		// cycle's steps before this one do.
		pl.Steps = append([]outer.Step{{Name: "boot", Actions: []plan.Action{{Do: plan.ActWaitUp}, {Do: plan.ActWaitSelftest}}}}, pl.Steps...)
	}
	before, err := m.BootID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep := drivePlan(t, m, pl)
	fmt.Fprintf(os.Stderr, "phase %-34s %6.0fs (issue 26: pending tree judged, no reboot)\n", "pending-tree total", time.Since(start).Seconds())
	steps := rep.Hosts[0].Steps
	s := steps[len(steps)-1]
	if !rep.OK || s.Status != outer.StepPass {
		t.Fatalf("step %s %s %q: want it passing, the bad daemon.json caught", s.Name, s.Status, s.Message)
	}
	want := "but its tree fails offline checks: storage.config fail: /etc/docker/daemon.json: not valid JSON, dockerd will not start on it: line 3: unexpected end of JSON input"
	if p := s.Pending; len(p) == 0 || p[len(p)-1].Status != "fail" || !strings.Contains(p[len(p)-1].Message, "to 12.6 pending (the new default), "+want) {
		t.Errorf("step %s: deployment-change records %+v, want the last failing with %q", s.Name, p, want)
	}
	if !strings.HasPrefix(s.Message, "caught before the reboot: ") {
		t.Errorf("step %s: message %q, want caught before the reboot", s.Name, s.Message)
	}
	// The host's record: deployment.pending judged the pending tree with
	// the offline checks, and left out those that read /var or /boot.
	b, err := os.ReadFile(filepath.Join(s.Artifacts, fmt.Sprintf("record-deployment-change-%d.json", len(s.Pending))))
	if err != nil {
		t.Fatal(err)
	}
	var rec record.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.Checks {
		if c.ID != "deployment.pending" {
			continue
		}
		tree, _ := c.Details["tree"].(string)
		checks, _ := c.Details["tree_checks"].(map[string]any)
		if !strings.HasPrefix(tree, "/ostree/deploy/debian/deploy/") || checks["storage.config"] != "fail" || checks["host.tree"] != "pass" {
			t.Errorf("deployment.pending judged tree %q with %v, want storage.config failing and host.tree passing", tree, checks)
		}
		for _, hs := range []string{"cloudinit.finished", "syscontainer.installed", "ostree.bootloader"} {
			if _, ran := checks[hs]; ran {
				t.Errorf("deployment.pending ran %s (it reads /var or /boot) against the pending tree", hs)
			}
		}
	}
	// Undeployed, and not rebooted.
	if after, err := m.BootID(ctx); err != nil || after != before {
		t.Errorf("boot id %s (%v) after the step, want %s: no reboot", after, err, before)
	}
	res, err := m.Run(ctx, time.Minute, "ostree", "admin", "status")
	if err != nil || strings.Contains(string(res.Stdout), "Version: 12.6") {
		t.Errorf("ostree admin status after the step (%v): %s; want 12.6 undeployed", err, res.Stdout)
	}
}
