package all_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/all"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// offlineChecks are every registered check that runs with --sysroot:
// the ones that read an image's files.
func offlineChecks(t *testing.T) []*selftest.Check {
	var cs []*selftest.Check
	for _, c := range selftest.Default.All() {
		if c.Offline {
			cs = append(cs, c)
		}
	}
	if len(cs) < 5 {
		t.Fatalf("only %d offline checks registered", len(cs))
	}
	return cs
}

// runHostile runs every offline check against the image through the
// runner, bounded by a deadline: a check that blocks on a FIFO or reads
// /dev/zero would never return.
func runHostile(t *testing.T, img *ostreetest.Hostile) map[string]record.Result {
	t.Helper()
	h := selftest.NewRunContext(selftest.NewHost(img.Dir), nil)
	if !h.Offline {
		t.Fatal("a --sysroot host is not offline")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := &record.Record{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&selftest.Runner{RunContext: h, Checks: offlineChecks(t)}).Run(ctx, rec)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the checks hung on the hostile image")
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), img.Secret) {
		t.Errorf("the record quotes the live host's file %s:\n%s", img.Marker, b)
	}
	got := map[string]record.Result{}
	for _, r := range rec.Checks {
		got[r.ID] = r
		t.Logf("%s: %s %q", r.ID, r.Status, r.Message)
		if strings.Contains(r.Message, "panic") {
			t.Errorf("%s panicked: %s", r.ID, r.Message)
		}
	}
	return got
}

// checkResult asserts the result of id, which must have run.
func checkResult(t *testing.T, got map[string]record.Result, id string, status record.Status, parts ...string) {
	t.Helper()
	r, ok := got[id]
	if !ok {
		t.Fatalf("%s did not run", id)
	}
	checktest.Expect(t, r, status, parts...)
}

// Issue 15.1 and 17.1: links out of the image (absolute, relative,
// through a missing component), FIFOs and a device node in every file
// the offline checks read. No check reads the live host's file, none
// blocks, and the ones that meet a special file say which.
func TestHostileImageLinksFIFOsDevices(t *testing.T) {
	img := ostreetest.HostileImage(t, false)
	got := runHostile(t, img)
	checkResult(t, got, "storage.config", record.StatusFail, "/etc/sysconfig/docker-storage", "not a regular file (a FIFO)")
	checkResult(t, got, "ostree.bootloader", record.StatusFail, "/boot/loader/syslinux.cfg", "not a regular file (a character device)")
	checkResult(t, got, "syscontainer.installed", record.StatusFail, "/var/lib/containers/atomic/evil/info")
	checkResult(t, got, "cloudinit.finished", record.StatusFail)
	// authorized_keys links to the live host's file: inside the image it
	// does not exist.
	checkResult(t, got, "cloudinit.sshkey", record.StatusFail, "user fedora has no /var/home/fedora/.ssh/authorized_keys")
}

// Sparse 1 GB files where the checks read: each is refused at its limit,
// with a message naming the file and the limit, and the run neither
// crashes nor allocates the gigabyte.
func TestHostileImageHugeFiles(t *testing.T) {
	img := ostreetest.HostileImage(t, true)
	got := runHostile(t, img)
	checkResult(t, got, "storage.config", record.StatusFail, "reading /etc/docker/daemon.json: larger than the 1 MiB limit for configuration files")
	checkResult(t, got, "ostree.bootloader", record.StatusFail, "reading /boot/loader/syslinux.cfg: larger than the 1 MiB limit for boot loader configuration")
	checkResult(t, got, "cloudinit.finished", record.StatusFail, "status.json: larger than the 8 MiB limit for state records")
	checkResult(t, got, "cloudinit.sshkey", record.StatusFail, "reading /etc/passwd: larger than the 8 MiB limit for state records")
	checkResult(t, got, "syscontainer.installed", record.StatusFail, "reading /var/lib/containers/atomic/evil/info: larger than the 1 MiB limit for container records")
}
