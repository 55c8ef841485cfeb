package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// The power-cut harness (issue 29). A SIGKILL of one process keeps what it
// wrote in the page cache; a power cut does not. Here the power of the
// whole guest is cut: QEMU is killed (VM.PowerCut) with the disk in cache
// mode writeback, so the guest's page cache is lost with its memory, and
// what the guest flushed survives. To make the guest's unflushed writes
// stay in its memory until the cut instead of reaching the disk within
// seconds, the guest is set up before the first cut (and keeps it, /etc
// being carried into every deployment):
//   - vm.dirty_writeback_centisecs = 0: no periodic writeback; the
//     background and foreground thresholds at 90 and 95 % of memory;
//   - ext4's journal commit every 600 s instead of 5 (remount, commit=600);
//     a commit still happens whenever something fsyncs;
//   - journald forwards every entry to the serial console, which is how
//     the harness sees where a boot is: the self-test's own journal lines
//     (one per check, written right after its record is saved), systemd's
//     "Starting atomic-selftest.service";
//   - powercut-control.service writes /var/lib/powercut-control/<boot id>
//     at each boot, before the self-test, without any sync: the control.
//     After a cut it should be gone or empty; if it survived every cut, the
//     harness modelled nothing and the test says so.
// Not modelled: a disk that acknowledges a flush it did not do, torn
// sectors, the host itself losing power (its page cache holds what QEMU
// wrote).
//
// With E2E_POWERCUT=N: the fixed point (the cut right after the boot
// run's record is saved: at its first per-check journal line), then N cuts
// at random instants of the boot run (from systemd starting the unit to a
// little past the measured run). Each cut is followed by a cold start of
// the same disk, and that boot's own run is waited for and checked.

// The self-test's per-check journal entry, "<id> <status>: <message>",
// as journald forwards it to the console ("atomic-selftest[PID]: ...").
var checkLine = regexp.MustCompile(`atomic-selftest\[\d+\]: [a-z0-9]+\.[a-z0-9_.-]+ (pass|fail|skip|error|blocked): `)

var (
	unitStarting = regexp.MustCompile(`Starting atomic-selftest\.service`)
	controlLine  = regexp.MustCompile(`powercut-control boot ([0-9a-f-]{36})`)
)

// powerCutSetup makes the guest keep unflushed writes in memory and
// forward its journal to the console (see above). It is synced, so the
// cut at rest that follows keeps it.
const powerCutSetup = `set -e
mkdir -p /etc/sysctl.d /etc/systemd/journald.conf.d /etc/systemd/system
cat > /etc/sysctl.d/90-powercut.conf <<'EOF'
vm.dirty_writeback_centisecs = 0
vm.dirty_expire_centisecs = 8640000
vm.dirty_background_ratio = 90
vm.dirty_ratio = 95
EOF
cat > /etc/systemd/journald.conf.d/90-powercut.conf <<'EOF'
[Journal]
ForwardToConsole=yes
TTYPath=/dev/ttyS0
MaxLevelConsole=info
EOF
cat > /etc/powercut-control.sh <<'EOF'
mount -o remount,commit=600 /
b=$(cat /proc/sys/kernel/random/boot_id)
mkdir -p /var/lib/powercut-control
echo "$b" > "/var/lib/powercut-control/$b"
echo "powercut-control boot $b $(grep ' / ' /proc/mounts | head -1) dirty_writeback=$(cat /proc/sys/vm/dirty_writeback_centisecs)"
EOF
cat > /etc/systemd/system/powercut-control.service <<'EOF'
[Unit]
Description=power-cut harness: commit interval and the unsynced control file
After=local-fs.target systemd-sysctl.service
Before=atomic-selftest.service
[Service]
Type=oneshot
ExecStart=/bin/sh /etc/powercut-control.sh
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
EOF
systemctl enable powercut-control.service
sync`

// cutReport is one cut: where it landed and what the boots recorded.
type cutReport struct {
	Name       string  `json:"name"`
	VictimBoot string  `json:"victim_boot"`
	AfterStart float64 `json:"cut_after_unit_start_sec"`
	// Seen is what the console showed before the cut.
	Seen []string `json:"seen_before_cut"`
	// VictimRecord is the run record the cut boot left (its ID), if any.
	VictimRecord  string  `json:"victim_record,omitempty"`
	ControlKept   bool    `json:"control_kept"`
	Disk          string  `json:"qemu_img_check,omitempty"`
	NextBoot      string  `json:"next_boot"`
	NextRecord    string  `json:"next_record"`
	NextSummary   string  `json:"next_summary"`
	NextKind      string  `json:"next_transition"`
	NextHealth    string  `json:"next_health,omitempty"`
	NextProblems  string  `json:"next_problems,omitempty"`
	ColdBootToRun float64 `json:"cold_boot_to_record_sec"`
}

func TestPowerCutTestbed(t *testing.T) {
	n := os.Getenv("E2E_POWERCUT")
	if n == "" {
		t.Skip("E2E_POWERCUT is not set (the number of random cuts after the fixed point)")
	}
	random, err := strconv.Atoi(n)
	if err != nil || random < 0 {
		t.Fatalf("E2E_POWERCUT=%q: want a number of random cuts (0: the fixed point only)", n)
	}
	vm := startTestbedCache(t, "testbed-powercut", "writeback")
	info := readTestbed(t, os.Getenv(testbedEnv))
	pc := &powerCut{t: t, vm: vm, deployed: info.Deployed}

	first := pc.up()
	pc.waitRecord(first)
	if _, err := sshRun(t, vm, "sh", "-c", powerCutSetup); err != nil {
		t.Fatal(err)
	}
	// A cut at rest (everything that matters synced) brings the setup in.
	pc.cutAndStart()

	var reports []cutReport
	window := 0.0
	cuts := 1 + random
	for i := 0; i < cuts; i++ {
		var r cutReport
		if i == 0 {
			r = pc.cut("record saved", checkLine, 0)
			window = r.AfterStart
		} else {
			delay := rand.Float64() * (window*1.2 + 2)
			r = pc.cut(fmt.Sprintf("random %d (%.1fs after the unit started)", i, delay), nil, time.Duration(delay*float64(time.Second)))
		}
		pc.check(&r)
		reports = append(reports, r)
		b, _ := json.Marshal(r)
		fmt.Fprintf(os.Stderr, "powercut: %s\n", b)
		if i < cuts-1 {
			pc.cutAndStart()
		}
	}
	if info.Health && os.Getenv("E2E_POWERCUT_HEALTH") != "0" {
		// On the last cold boot, whose run is saved.
		reports = append(reports, pc.healthCut(info.Bad.Checksum))
	}
	kept := 0
	for _, r := range reports {
		if r.ControlKept {
			kept++
		}
	}
	if kept == len(reports) {
		t.Errorf("the unsynced control file survived all %d cuts: the harness dropped no unsynced write, so it proved nothing", kept)
	}
}

type powerCut struct {
	t        *testing.T
	vm       *VM
	deployed string
}

// up waits for sshd and returns the boot id (dashes removed, as records
// carry it).
func (p *powerCut) up() string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := p.vm.WaitSSH(ctx); err != nil {
		p.t.Fatal(err)
	}
	out, err := sshRun(p.t, p.vm, "cat", "/proc/sys/kernel/random/boot_id")
	if err != nil {
		p.t.Fatal(err)
	}
	return strings.ReplaceAll(strings.TrimSpace(out), "-", "")
}

// waitRecord waits for the boot run of boot and returns it.
func (p *powerCut) waitRecord(boot string) *record.Record {
	p.t.Helper()
	out, err := sshRun(p.t, p.vm, "atomic-selftest", "results", "--wait-boot", boot, "--timeout", "10m", "--format", "json")
	if err != nil {
		p.t.Fatalf("boot %s: no boot record: %v\nconsole:\n%s", boot, err, strings.Join(p.vm.Console(30), "\n"))
	}
	var recs []*record.Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) == 0 {
		// One record or a list, as the json format prints it.
		var one record.Record
		if err2 := json.Unmarshal([]byte(out), &one); err2 != nil {
			p.t.Fatalf("boot %s: results: %v / %v: %.300s", boot, err, err2, out)
		}
		return &one
	}
	return recs[len(recs)-1]
}

// cutAndStart cuts the power at rest and starts the same disk again.
func (p *powerCut) cutAndStart() {
	p.t.Helper()
	if err := p.vm.PowerCut(); err != nil {
		p.t.Fatal(err)
	}
	if err := p.vm.ColdStart(context.Background()); err != nil {
		p.t.Fatal(err)
	}
}

// cut waits, on the boot that is starting, for the unit's start, then for
// marker (or delay after the start), cuts the power, checks the disk and
// cold-starts it; it returns once the cold boot's run is saved.
func (p *powerCut) cut(name string, marker *regexp.Regexp, delay time.Duration) cutReport {
	p.t.Helper()
	r := cutReport{Name: name}
	next := p.cutAt(&r, marker, delay)
	if next.Health != nil && next.Health.Action != record.HealthRecord {
		p.t.Errorf("%s: health acted on the good deployment after the cut: %s", name, r.NextHealth)
	}
	return r
}

// cutAt is a cut: the control line names the boot, then the unit's start,
// then marker (or delay after the start), the power cut, qemu-img check,
// the cold start, and the cold boot's own run record, which it returns.
func (p *powerCut) cutAt(r *cutReport, marker *regexp.Regexp, delay time.Duration) *record.Record {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	mark := p.vm.ConsoleMark()
	line, err := p.vm.WaitConsole(ctx, mark, controlLine)
	if err != nil {
		p.t.Fatalf("%s: no control line: %v\nconsole:\n%s", r.Name, err, strings.Join(p.vm.Console(30), "\n"))
	}
	r.VictimBoot = strings.ReplaceAll(controlLine.FindStringSubmatch(line)[1], "-", "")
	if _, err := p.vm.WaitConsole(ctx, mark, unitStarting); err != nil {
		p.t.Fatalf("%s: the unit never started: %v", r.Name, err)
	}
	started := time.Now()
	if marker != nil {
		if _, err := p.vm.WaitConsole(ctx, mark, marker); err != nil {
			p.t.Fatalf("%s: no marker %s: %v\nconsole:\n%s", r.Name, marker, err, strings.Join(p.vm.Console(40), "\n"))
		}
	} else {
		time.Sleep(delay)
	}
	if err := p.vm.PowerCut(); err != nil {
		p.t.Fatal(err)
	}
	r.AfterStart = time.Since(started).Seconds()
	for _, l := range p.vm.Console(400) {
		var seen string
		switch {
		case checkLine.MatchString(l):
			seen = "check lines (record saved)"
		case rollbackMarker.MatchString(l):
			seen = "rollback tool started"
		case strings.Contains(l, "summary: release criteria"):
			seen = "summary"
		case strings.Contains(l, "Finished atomic-selftest.service"):
			seen = "unit finished"
		}
		if seen != "" && !slices.Contains(r.Seen, seen) {
			r.Seen = append(r.Seen, seen)
		}
	}
	if r.Disk, err = p.vm.CheckDisk(ctx); err != nil {
		p.t.Errorf("%s: %v", r.Name, err)
	}
	start := time.Now()
	// Not ctx: the VM outlives this cut (ColdStart stops it when its
	// context ends).
	if err := p.vm.ColdStart(context.Background()); err != nil {
		p.t.Fatal(err)
	}
	r.NextBoot = p.up()
	next := p.waitRecord(r.NextBoot)
	r.ColdBootToRun = time.Since(start).Seconds()
	r.NextRecord, r.NextSummary = next.ID, fmt.Sprintf("ok=%v passed=%d failed=%d on %s", next.Summary.OK, next.Summary.Passed, next.Summary.Failed, deploymentOf(next))
	if next.Transition != nil {
		r.NextKind = next.Transition.Kind
	}
	if next.Health != nil {
		r.NextHealth = next.Health.Action + " (stage " + next.Health.Stage + "): " + next.Health.Reason
	}
	return next
}

// check reads the results directory after the cold boot's run and
// asserts what a power cut must not break.
func (p *powerCut) check(r *cutReport) {
	p.t.Helper()
	const dir = "/var/lib/atomic-selftest"
	ls, err := sshRun(p.t, p.vm, "ls", "-A", dir)
	if err != nil {
		p.t.Fatal(err)
	}
	runs := 0
	for _, name := range strings.Fields(ls) {
		switch {
		case strings.HasPrefix(name, ".tmp-"):
			p.t.Errorf("%s: a temporary file outlived the next run: %s", r.Name, name)
		case strings.HasPrefix(name, "damaged-"):
			p.t.Errorf("%s: a torn file after the cut (%s): every write is fsynced before its rename, so none may tear", r.Name, name)
		case strings.HasSuffix(name, ".json"):
			body, err := sshRun(p.t, p.vm, "cat", dir+"/"+name)
			if err != nil {
				p.t.Fatal(err)
			}
			if !json.Valid([]byte(body)) {
				p.t.Errorf("%s: %s is not whole JSON after the cut: %.200q", r.Name, name, body)
				continue
			}
			if !strings.HasPrefix(name, "run-") {
				continue
			}
			runs++
			rec, err := record.Decode([]byte(body))
			if err != nil {
				p.t.Errorf("%s: %s: %v", r.Name, name, err)
				continue
			}
			if rec.BootID == r.VictimBoot && rec.Trigger == record.TriggerBoot {
				r.VictimRecord = rec.ID
			}
		}
	}
	if runs == 0 {
		p.t.Errorf("%s: no run record at all", r.Name)
	}
	if slices.Contains(r.Seen, "check lines (record saved)") && r.VictimRecord == "" {
		p.t.Errorf("%s: the cut came after the boot run's check lines, which follow its saved record, and the record is gone", r.Name)
	}
	ctl, _ := sshRun(p.t, p.vm, "sh", "-c", "cat /var/lib/powercut-control/$0 2>/dev/null || true", dashed(r.VictimBoot))
	r.ControlKept = strings.TrimSpace(ctl) == dashed(r.VictimBoot)
	booted, err := sshRun(p.t, p.vm, "atomic-selftest", "results", "--boot", r.NextBoot, "--format", "json")
	if err != nil {
		p.t.Errorf("%s: results --boot: %v", r.Name, err)
	}
	if !strings.Contains(booted, p.deployed) {
		p.t.Errorf("%s: the cold boot is not on the deployed %s", r.Name, p.deployed)
	}
}

// dashed turns a boot id as records carry it back into the kernel's form.
func dashed(id string) string {
	if len(id) != 32 {
		return id
	}
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// rollbackMarker is what the harness's wrapper of the rollback tool writes
// to the kernel log (and so the console) before it runs the testbed's tool:
// the health policy runs the tool right after health.json records the
// action at stage decided, fsynced.
var rollbackMarker = regexp.MustCompile(`powercut: rollback tool started`)

// powerCutHealth wraps the testbed's rollback command (an admin's
// [health] rollback_command in /etc overrides the vendor's) and deploys the
// bad 12.4 as the next default, synced.
const powerCutHealth = `set -e
cat > /etc/powercut-rollback.sh <<'EOF'
echo "powercut: rollback tool started" > /dev/kmsg
exec python3 /usr/libexec/atomic-selftest-testbed/ostree-rollback "$@"
EOF
mkdir -p /etc/atomic-selftest/config.d
cat > /etc/atomic-selftest/config.d/90-powercut.toml <<'EOF'
[health]
rollback_command = ["/bin/sh", "/etc/powercut-rollback.sh"]
EOF
ostree admin deploy --os=debian atomic-selftest-testbed/bad
sync`

// healthCut deploys the bad 12.4, cuts the power on its first boot right
// after health.json records the rollback decided (when the rollback tool
// starts), and follows the host until it is back on the good deployment:
// the interrupted rollback is carried on once, reported as interrupted,
// and nothing is rolled back twice.
func (p *powerCut) healthCut(bad string) cutReport {
	p.t.Helper()
	r := cutReport{Name: "health decided (rollback tool started)"}
	if _, err := sshRun(p.t, p.vm, "sh", "-c", powerCutHealth); err != nil {
		p.t.Fatal(err)
	}
	// The deployment is written and synced by ostree: a cut at rest boots
	// it.
	p.cutAndStart()
	// The cold boot: 12.4 again (the rollback was not written) or 12.2
	// (it was). Then, if 12.4, the boot after the carried-on rollback.
	next := p.cutAt(&r, rollbackMarker, 0)
	final := next
	if next.Deployment != nil && next.Deployment.Checksum == bad {
		if next.Health == nil || next.Health.Action != record.HealthRollback || !strings.Contains(next.Health.Reason, "interrupted at stage decided") {
			p.t.Errorf("%s: the cold boot on 12.4 did not carry on the interrupted rollback: %+v", r.Name, next.Health)
		}
		// The host reboots by itself into the rollback.
		after := p.nextBoot(r.NextBoot)
		final = p.waitRecord(after)
		r.NextSummary += fmt.Sprintf("; then boot %s: ok=%v on %s", after, final.Summary.OK, deploymentOf(final))
		if final.Transition != nil {
			r.NextKind += " then " + final.Transition.Kind + " by " + final.Transition.By
		}
	}
	if final.Deployment == nil || final.Deployment.Checksum != p.deployed || !final.Summary.OK {
		p.t.Errorf("%s: the host did not end on the good deployment %s: %s", r.Name, p.deployed, deploymentOf(final))
	}
	if final.Health != nil && final.Health.Action != record.HealthRecord {
		p.t.Errorf("%s: health acted again on the good deployment: %s: %s", r.Name, final.Health.Action, final.Health.Reason)
	}
	// One rollback: health.json names 12.4 once as rolled back from, and
	// the records hold at most one rollback that was carried out.
	st, err := sshRun(p.t, p.vm, "cat", "/var/lib/atomic-selftest/health.json")
	if err != nil {
		p.t.Fatal(err)
	}
	var hs struct {
		RolledBackFrom []string `json:"rolled_back_from"`
		Action         struct {
			Stage, Completion string
		} `json:"action"`
	}
	if err := json.Unmarshal([]byte(st), &hs); err != nil {
		p.t.Fatalf("%s: health.json: %v", r.Name, err)
	}
	if len(hs.RolledBackFrom) != 1 || hs.RolledBackFrom[0] != bad || hs.Action.Stage != record.HealthStageDone {
		p.t.Errorf("%s: health.json after the recovery: %s", r.Name, st)
	}
	r.NextHealth += " | health.json: " + hs.Action.Completion
	// check looks at the boot the host ended on.
	r.NextBoot = strings.ReplaceAll(final.BootID, "-", "")
	p.check(&r)
	return r
}

// nextBoot waits for the guest to come back with a boot id other than
// boot (a reboot the host asked for itself).
func (p *powerCut) nextBoot(boot string) string {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Second)
		out, err := sshRun(p.t, p.vm, "cat", "/proc/sys/kernel/random/boot_id")
		if id := strings.ReplaceAll(strings.TrimSpace(out), "-", ""); err == nil && id != boot && len(id) == 32 {
			return id
		}
	}
	p.t.Fatalf("no boot after %s within 10 minutes\nconsole:\n%s", boot, strings.Join(p.vm.Console(30), "\n"))
	return ""
}

func deploymentOf(rec *record.Record) string {
	if rec.Deployment == nil {
		return "no deployment"
	}
	return record.Short(rec.Deployment.Checksum) + "(" + rec.Deployment.Version + ")"
}
