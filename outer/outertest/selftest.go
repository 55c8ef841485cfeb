package outertest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// selftest writes the run record of a boot the way atomic-selftest.service
// does, consuming the expectation.
func (h *Host) selftest(boot string, dep deployment, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if boot != h.bootID || h.SelftestNever {
		return
	}
	now := h.clock()
	h.nextSeq++
	rec := &record.Record{Schema: record.SchemaVersion, ToolVersion: "sim", BootID: boot, Hostname: h.Name,
		Trigger: record.TriggerBoot, Start: now.Add(time.Duration(h.nextSeq) * time.Microsecond), End: now,
		Deployment: &record.Deployment{OSName: dep.os, Checksum: dep.checksum, Serial: dep.serial, Version: dep.version,
			Refspec: dep.refspec, LayeredPackages: dep.packages}}
	add := func(id, crit string, st record.Status, msg string) {
		rec.Checks = append(rec.Checks, record.Result{ID: id, Criterion: crit, Required: true, Status: st, Message: msg, Start: now, DurationSec: 0.01})
	}
	add("ostree.booted", "C1", record.StatusPass, "booted "+record.Short(dep.checksum))
	if data, ok := h.files[ResultsDir+"/expect.json"]; ok {
		var e record.Expectation
		json.Unmarshal(data, &e)
		st, msg := record.StatusPass, "booted the expected deployment"
		if e.Checksum != "" && e.Checksum != dep.checksum {
			st, msg = record.StatusFail, fmt.Sprintf("booted %s, expected %s", record.Short(dep.checksum), record.Short(e.Checksum))
		}
		for _, p := range e.Packages {
			if !slices.Contains(dep.packages, p) {
				st, msg = record.StatusFail, p+" is not layered"
			}
		}
		add("deployment.expected", "C3", st, msg)
		rec.Expectation = &e
		delete(h.files, ResultsDir+"/expect.json")
	}
	reject := h.RejectVersion != "" && dep.version == h.RejectVersion
	failing := record.FailingCheck{ID: "runtime.run", Message: "docker run hello: exit status 125"}
	if reject && h.RejectByDeadline {
		// The boot run never started: the deadline run's record, in the
		// shape selftest/session and host.boot give it.
		rec.Trigger = record.TriggerDeadline
		failing = record.FailingCheck{ID: "host.boot", Message: "the boot missed its deadline (3m0s): 1 unit(s) still starting or queued: hang.service start running for 2m55s"}
		rec.Deadline = &record.Deadline{Bound: "3m0s", UptimeSec: 180, Jobs: []record.Job{{ID: 90, Unit: "hang.service", Type: "start", State: "running", ForSec: 175}}}
		add(failing.ID, "C1", record.StatusFail, failing.Message)
		add("runtime.run", "C8", record.StatusPass, "")
	} else if h.SelftestFails && n > 1 || reject {
		add("runtime.run", "C8", record.StatusFail, "docker run hello: exit status 125")
	} else {
		add("runtime.run", "C8", record.StatusPass, "")
	}
	rec.Transition, h.transition = h.transition, nil
	rec.Summary = record.Summarise(rec.Checks)
	name := runName(rec)
	rec.ID = strings.TrimSuffix(name, ".json")
	if reject && h.rejectedBoots < h.RejectReboots {
		h.rejectedBoots++
		rec.Health = &record.Health{Policy: record.HealthRollback, Action: record.HealthReboot, From: rec.Deployment,
			Failing: []record.FailingCheck{failing}, Attempt: h.rejectedBoots, MaxAttempts: h.RejectReboots + 1,
			DecidedAt: now, RebootRequestedAt: now}
		h.transition = &record.Transition{Kind: record.TransitionSame, From: rec.Deployment, To: rec.Deployment}
		time.AfterFunc(30*time.Millisecond, h.reboot)
	} else if reject {
		from := rec.Deployment
		prev := h.deps[1]
		rec.Health = &record.Health{Policy: record.HealthRollback, Action: record.HealthRollback, Reason: "required checks failed",
			From: from, To: &record.Deployment{OSName: prev.os, Checksum: prev.checksum, Serial: prev.serial, Version: prev.version},
			Tool: "command", Failing: []record.FailingCheck{failing},
			Attempt: h.RejectReboots + 1, MaxAttempts: h.RejectReboots + 1, DecidedAt: now, RebootRequestedAt: now}
		h.transition = &record.Transition{Kind: record.TransitionRollback, From: from, To: rec.Health.To,
			By: record.TransitionByAtomicSelftest, ActionRecord: rec.ID}
		if h.RejectRebootNow {
			defer func() {
				h.deps[0], h.deps[1] = h.deps[1], h.deps[0]
				for c := range h.conns {
					c.Close()
				}
				h.upAt = time.Now().Add(h.DownFor)
				h.bootLocked(true)
			}()
		} else if !h.RejectNoReboot {
			time.AfterFunc(30*time.Millisecond, func() {
				h.mu.Lock()
				h.deps[0], h.deps[1] = h.deps[1], h.deps[0]
				h.mu.Unlock()
				h.reboot()
			})
		}
	}
	data, _ := json.Marshal(rec)
	h.files[ResultsDir+"/"+name] = data
	h.mtimes[ResultsDir+"/"+name] = h.clock()
	close(h.saved)
	h.saved = make(chan struct{})
}

// waitBoot is `atomic-selftest results --wait-boot ID --timeout D --format
// json --results-dir DIR`: it prints the boot's record as a JSON array the
// moment it is saved, or exits 6 after D. h.mu is held on entry and exit.
func (h *Host) waitBoot(argv []string, stdout, stderr io.Writer) int {
	if h.NoWaitOption {
		fmt.Fprintln(stderr, "atomic-selftest results: unknown flag: --wait-boot")
		return 2
	}
	opts := map[string]string{}
	for i := 2; i+1 < len(argv); i += 2 {
		opts[argv[i]] = argv[i+1]
	}
	bound, err := time.ParseDuration(opts["--timeout"])
	if err != nil || opts["--format"] != "json" || opts["--results-dir"] != ResultsDir {
		fmt.Fprintf(stderr, "atomic-selftest results: bad options %q\n", argv)
		return 2
	}
	deadline := time.After(bound)
	for {
		for p, data := range h.files {
			if !strings.HasPrefix(p, ResultsDir+"/run-") {
				continue
			}
			var rec record.Record
			if json.Unmarshal(data, &rec) == nil && rec.BootID == opts["--wait-boot"] && record.JudgesBoot(rec.Trigger) {
				fmt.Fprintf(stdout, "[%s]\n", data)
				return 0
			}
		}
		saved := h.saved
		h.mu.Unlock()
		select {
		case <-saved:
			h.mu.Lock()
		case <-deadline:
			h.mu.Lock()
			fmt.Fprintf(stderr, "atomic-selftest results: --wait-boot: no run of boot %s within %s\n", opts["--wait-boot"], bound)
			return 6
		}
	}
}

// deploymentChanged plays ostree's mtime bump and the path unit's run: a
// record with trigger deployment-change a moment later. h.mu is held.
func (h *Host) deploymentChanged() {
	h.deployMtime = h.clock()
	boot := h.bootID
	next := *h.deps[0]
	time.AfterFunc(20*time.Millisecond, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if boot != h.bootID {
			return
		}
		now := h.clock()
		h.nextSeq++
		st, msg := record.StatusPass, "nothing pending: the default deployment is the booted one"
		if next.checksum != h.booted.checksum || next.serial != h.booted.serial {
			msg = fmt.Sprintf("%s to %s pending (the new default): kernel and initramfs in place", "deploy", next.version)
			if h.PendingBroken {
				st, msg = record.StatusFail, fmt.Sprintf("deploy to %s pending (the new default): missing /boot/ostree/sim-0/initramfs.img (entry ostree-2.conf)", next.version)
			}
		}
		rec := &record.Record{Schema: record.SchemaVersion, ToolVersion: "sim", BootID: boot, Hostname: h.Name,
			Trigger: record.TriggerDeploymentChange, Start: now.Add(time.Duration(h.nextSeq) * time.Microsecond), End: now.Add(time.Duration(h.nextSeq+1) * time.Microsecond),
			Checks: []record.Result{{ID: "deployment.pending", Criterion: "C3", Required: true, Status: st, Message: msg, Start: now}}}
		rec.Summary = record.Summarise(rec.Checks)
		name := runName(rec)
		rec.ID = strings.TrimSuffix(name, ".json")
		data, _ := json.Marshal(rec)
		h.files[ResultsDir+"/"+name] = data
		h.mtimes[ResultsDir+"/"+name] = h.clock()
		close(h.saved)
		h.saved = make(chan struct{})
	})
}

// selftestCommand answers the atomic-selftest commands the driver runs:
// version, `results --wait-boot` and `expect`. h.mu is held.
func (h *Host) selftestCommand(argv []string, stdout, stderr io.Writer) (int, bool) {
	switch {
	case len(argv) == 2 && argv[1] == "version":
		fmt.Fprintln(stdout, "atomic-selftest sim (go1.26, linux/amd64)")
	case len(argv) > 3 && argv[1] == "results" && argv[2] == "--wait-boot":
		return h.waitBoot(argv, stdout, stderr), false
	case len(argv) > 1 && argv[1] == "expect":
		e := record.Expectation{Created: time.Now().UTC(), CreatedBootID: h.bootID}
		for i := 2; i+1 < len(argv); i += 2 {
			switch argv[i] {
			case "--checksum":
				e.Checksum = argv[i+1]
			case "--package":
				e.Packages = append(e.Packages, argv[i+1])
			case "--absent-package":
				e.AbsentPackages = append(e.AbsentPackages, argv[i+1])
			default:
				return fail(stderr, "atomic-selftest expect: unknown flag %s", argv[i])
			}
		}
		data, _ := json.Marshal(e)
		h.files[ResultsDir+"/expect.json"] = data
	default:
		return notFound(stderr, strings.Join(argv, " "))
	}
	return 0, false
}

// runName is the name the host's store gives a run record
// (selftest/store.RunName: run-<UTC start>-<boot id prefix>.json; the
// driver's TestRunPatternMatchesTheStore holds the driver to the store,
// and TestSimulatedRecordNamesAreTheStores this to it).
func runName(rec *record.Record) string {
	return "run-" + rec.Start.UTC().Format("20060102T150405.000000Z") + "-" + rec.BootID[:min(len(rec.BootID), 8)] + ".json"
}

// clock is the host's time: the driver's, ClockAhead ahead.
func (h *Host) clock() time.Time {
	return time.Now().Add(h.ClockAhead).UTC()
}
