package outer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/outer/outertest"
	"github.com/atomic-selftest/atomic-selftest/outer/ssh"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// The wait through a real sshd and the real host binary: the driver's one
// blocking `atomic-selftest results --wait-boot` returns the moment the
// boot's record is saved; a host without the binary is polled with find
// and cat, bounded, and a record over the limit fails the wait with the
// host, the file and the limit.
func TestWaitSelftestRealSSHD(t *testing.T) {
	s := outertest.StartSSHD(t)
	goBin := testutil.NeedCommand(t, "go", "go")
	bin := filepath.Join(t.TempDir(), "atomic-selftest")
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/atomic-selftest/atomic-selftest/cmd/atomic-selftest").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	os.WriteFile(s.KnownHosts, []byte(outertest.KnownHostsLine(s.Addr, s.HostKey)+"\n"), 0o600)
	m, err := ssh.New(ssh.Config{Name: "sshd", Addr: s.Addr, KeyFile: s.ClientKey, KnownHosts: s.KnownHosts})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	boot, err := m.BootID(ctx) // sshd runs here: this machine's boot
	if err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(t.TempDir(), "results")
	save := func(size int) string {
		st, err := store.Open(results)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		rec := &record.Record{Schema: record.SchemaVersion, ToolVersion: "test", BootID: boot, Hostname: "sshd", Trigger: record.TriggerBoot,
			Start: now.Add(-time.Second), End: now}
		if size > 0 {
			rec.Checks = []record.Result{{ID: "x.big", Criterion: "C1", Status: record.StatusPass, Message: strings.Repeat("x", size)}}
		}
		rec.Summary = record.Summarise(rec.Checks)
		p, err := st.SaveRun(rec)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	opts := Options{ResultsDir: results, Selftest: bin, Poll: Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond}}
	opts.defaults()

	r := &records{m: m, opts: &opts}
	var saved time.Time
	time.AfterFunc(1500*time.Millisecond, func() { saved = time.Now(); save(0) })
	rec, err := r.boot(ctx, boot, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := time.Now()
	if rec.BootID != boot || r.mode != WaitBlocking {
		t.Errorf("record of boot %s by %q", rec.BootID, r.mode)
	}
	// The wait's slice is 30 s: a wait that was not woken by
	// the save would only return at its end. (Each SSH command costs
	// seconds on a loaded machine, so the lag is not compared tighter.)
	lag := got.Sub(saved)
	if lag > 10*time.Second {
		t.Errorf("the driver had the record %s after it was saved", lag)
	}
	t.Logf("the driver had the record %s after it was saved", lag)

	// No binary on the host: exit 127, then polling finds the record.
	opts.Selftest = "/nonexistent/atomic-selftest"
	r = &records{m: m, opts: &opts}
	if rec, err := r.boot(ctx, boot, time.Minute); err != nil || rec.BootID != boot || r.mode != WaitPoll {
		t.Errorf("fallback: %v, %q", err, r.mode)
	}

	// A record over the limit: the poll refuses it by host, file and limit.
	os.RemoveAll(results)
	defer func(old int64) { transport.Limits.Record = old }(transport.Limits.Record)
	transport.Limits.Record = 64 << 10
	big := save(100 << 10)
	r = &records{m: m, opts: &opts}
	_, err = r.boot(ctx, boot, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "sshd: reading "+big+": larger than the limit of 65536 bytes") {
		t.Errorf("oversized record: %v", err)
	}
}
