package session

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// deploymentRegistry has one check that reports a booted deployment and
// records what history and expectation the run was handed.
func deploymentRegistry(checksum string, seen *selftest.History) *selftest.Registry {
	reg := &selftest.Registry{}
	reg.Register(&selftest.Check{ID: "fake.deployment", Criterion: "C3", Required: true, Description: "d",
		Run: func(_ context.Context, t *selftest.T) {
			*seen = t.History
			t.UpdateRecord(func(r *record.Record) { r.Deployment = &record.Deployment{OSName: "os", Checksum: checksum} })
		}})
	return reg
}

func run(t *testing.T, dir, checksum string) (*Outcome, selftest.History) {
	t.Helper()
	var seen selftest.History
	out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: deploymentRegistry(checksum, &seen), Config: config.Defaults()})
	if err != nil || out.SaveErr != nil {
		t.Fatalf("run: %v %v", err, out.SaveErr)
	}
	return out, seen
}

func TestExpectationConsumedOnlyOnAnotherBoot(t *testing.T) {
	dir := t.TempDir()
	st, _ := store.Open(dir)
	// Left on this very boot (before a reboot that has not happened yet):
	// it must wait for the next boot.
	if err := st.WriteJSON(store.ExpectFile, record.Expectation{Checksum: "c2", CreatedBootID: ReadBootID()}); err != nil {
		t.Fatal(err)
	}
	out, seen := run(t, dir, "c1")
	if seen.Expectation != nil || out.Record.Expectation != nil {
		t.Fatal("an expectation left on this boot was applied to it")
	}
	if _, err := os.Stat(filepath.Join(dir, store.ExpectFile)); err != nil {
		t.Fatalf("the pending expectation was removed: %v", err)
	}
	// Left on another boot: this run verifies and consumes it.
	if err := st.WriteJSON(store.ExpectFile, record.Expectation{Checksum: "c2", CreatedBootID: "an-earlier-boot"}); err != nil {
		t.Fatal(err)
	}
	out, seen = run(t, dir, "c2")
	if seen.Expectation == nil || seen.Expectation.Checksum != "c2" {
		t.Fatalf("expectation not handed to the checks: %+v", seen.Expectation)
	}
	if out.Record.Expectation == nil || out.Record.Expectation.Checksum != "c2" {
		t.Fatal("expectation not moved into the run record")
	}
	if _, err := os.Stat(filepath.Join(dir, store.ExpectFile)); !os.IsNotExist(err) {
		t.Fatalf("expect.json not consumed: %v", err)
	}
	saved, err := store.ReadRecord(out.Path)
	if err != nil || saved.Expectation == nil {
		t.Fatalf("saved record lacks the expectation: %v", err)
	}
	// A third run has nothing to verify: a stale expectation never fails
	// a later boot.
	_, seen = run(t, dir, "c2")
	if seen.Expectation != nil {
		t.Fatal("a consumed expectation came back")
	}
}

func TestHistoryAcrossRunsOfOneBoot(t *testing.T) {
	dir := t.TempDir()
	st, _ := store.Open(dir)
	// The previous boot saw deployment c0.
	if err := st.WriteJSON(store.LastDeploymentFile, lastDeployment{BootID: "previous-boot", Deployment: &record.Deployment{Checksum: "c0"}}); err != nil {
		t.Fatal(err)
	}
	_, seen := run(t, dir, "c1")
	if seen.LastDeployment == nil || seen.LastDeployment.Checksum != "c0" || seen.LastBootID != "previous-boot" {
		t.Fatalf("first run of the boot: %+v", seen)
	}
	// A manual run later on the same boot still compares with the boot
	// before, not with itself.
	_, seen = run(t, dir, "c1")
	if seen.LastDeployment == nil || seen.LastDeployment.Checksum != "c0" {
		t.Fatalf("second run of the boot: %+v", seen)
	}
}

// The session reads the last boot's health action from its run records
// and hands it to the checks: the rollback, even when a later run of that
// boot refused to act again, and nothing of another boot.
func TestHistoryCarriesTheLastBootsAction(t *testing.T) {
	dir := t.TempDir()
	st, _ := store.Open(dir)
	if err := st.WriteJSON(store.LastDeploymentFile, lastDeployment{BootID: "lastboot", Deployment: &record.Deployment{Checksum: "c2"}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, h := range []*record.Health{
		{Action: record.HealthRollback, Failing: []record.FailingCheck{{ID: "runtime.service"}}},
		{Action: record.HealthRefused, Reason: "already rolled back"},
	} {
		rec := &record.Record{Schema: record.SchemaVersion, BootID: "lastboot", Start: time.Now().Add(time.Duration(i-10) * time.Minute), Health: h}
		if _, err := st.SaveRun(rec); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	if _, err := st.SaveRun(&record.Record{Schema: record.SchemaVersion, BootID: "lastbootX", Start: time.Now().Add(-time.Minute),
		Health: &record.Health{Action: record.HealthReboot}}); err != nil {
		t.Fatal(err)
	}
	_, seen := run(t, dir, "c1")
	if seen.LastActionRecord != ids[0] || seen.LastAction == nil || seen.LastAction.Action != record.HealthRollback {
		t.Fatalf("history %+v, want the rollback %s", seen, ids[0])
	}
}

// --no-save reads the history read-only: the checks see what earlier runs
// left, and nothing is written, made or locked.
func TestNoSaveReadsHistoryReadOnly(t *testing.T) {
	dir := t.TempDir()
	st, _ := store.Open(dir)
	if err := st.WriteJSON(store.LastDeploymentFile, lastDeployment{BootID: "previous-boot", Deployment: &record.Deployment{Checksum: "c0"}}); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, dir)
	var seen selftest.History
	out, err := Run(context.Background(), Options{ResultsDir: dir, NoSave: true, Registry: deploymentRegistry("c1", &seen), Config: config.Defaults()})
	if err != nil || out.Path != "" || len(out.Problems) != 0 {
		t.Fatalf("run: %v %q %v", err, out.Path, out.Problems)
	}
	if seen.LastDeployment == nil || seen.LastDeployment.Checksum != "c0" {
		t.Fatalf("history under --no-save: %+v", seen)
	}
	if after := listDir(t, dir); after != before {
		t.Errorf("--no-save changed the results directory: %s, was %s", after, before)
	}
	// A results directory that is not there is not made.
	missing := filepath.Join(t.TempDir(), "none")
	if _, err := Run(context.Background(), Options{ResultsDir: missing, NoSave: true, Registry: deploymentRegistry("c1", &seen), Config: config.Defaults()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("--no-save made %s: %v", missing, err)
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		fi, _ := e.Info()
		names = append(names, fmt.Sprintf("%s/%d/%s", e.Name(), fi.Size(), fi.ModTime().Format(time.RFC3339Nano)))
	}
	return strings.Join(names, " ")
}

func TestGarbledStateIsReportedNotFatal(t *testing.T) {
	dir := t.TempDir()
	st, _ := store.Open(dir)
	if err := os.WriteFile(filepath.Join(st.Dir, store.LastDeploymentFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := run(t, dir, "c1")
	if len(out.Problems) != 1 {
		t.Fatalf("problems: %v", out.Problems)
	}
	// The run replaced the garbled state with a good one.
	var ld lastDeployment
	if ok, err := st.ReadJSON(store.LastDeploymentFile, &ld); !ok || err != nil || ld.Deployment.Checksum != "c1" {
		t.Fatalf("state after the run: %v %v %+v", ok, err, ld)
	}
}

// [report] textfile_dir: every saved run replaces atomic-selftest.prom,
// readable by node_exporter; a directory that is not there is reported in
// ReportErr and the record is saved all the same.
func TestTextfileDir(t *testing.T) {
	dir, prom := t.TempDir(), t.TempDir()
	cfg := config.Defaults()
	cfg.Report.TextfileDir = prom
	var seen selftest.History
	out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: deploymentRegistry("c1", &seen), Config: cfg})
	if err != nil || out.SaveErr != nil || out.ReportErr != nil {
		t.Fatalf("run: %v %v %v", err, out.SaveErr, out.ReportErr)
	}
	path := filepath.Join(prom, "atomic-selftest.prom")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("textfile: %v %v", fi, err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `atomic_selftest_check_status{id="fake.deployment",criterion="C3",group="release",required="true",status="pass"} 1`) {
		t.Errorf("textfile lacks the check:\n%s", data)
	}
	if ents, _ := os.ReadDir(prom); len(ents) != 1 {
		t.Errorf("left files behind in the collector directory: %v", ents)
	}

	cfg.Report.TextfileDir = filepath.Join(prom, "missing")
	out, err = Run(context.Background(), Options{ResultsDir: dir, Registry: deploymentRegistry("c1", &seen), Config: cfg})
	if err != nil || out.SaveErr != nil {
		t.Fatalf("run: %v %v", err, out.SaveErr)
	}
	if out.ReportErr == nil || !strings.Contains(out.ReportErr.Error(), "missing") {
		t.Errorf("ReportErr %v, want one naming the directory", out.ReportErr)
	}
	if _, err := store.ReadRecord(out.Path); err != nil {
		t.Errorf("the record was lost with the textfile: %v", err)
	}
}

// The motd leads with the banner of an automatic rollback nobody has
// acknowledged, from the records the session read before the run, until
// an admin acknowledges it; --no-save runs show it too.
func TestMotdBannerFromTheHistory(t *testing.T) {
	dir := t.TempDir()
	st, _ := store.Open(dir)
	rb := &record.Record{Schema: record.SchemaVersion, BootID: "earlier-boot", Start: time.Now().Add(-time.Hour),
		Health: &record.Health{Action: record.HealthRollback, Failing: []record.FailingCheck{{ID: "runtime.service", Message: "docker.service is failed"}},
			From: &record.Deployment{Checksum: "c2", Version: "12.3"}, To: &record.Deployment{Checksum: "c1", Version: "12.2"}}}
	if _, err := st.SaveRun(rb); err != nil {
		t.Fatal(err)
	}
	motd := filepath.Join(t.TempDir(), "atomic-selftest")
	runMotd := func(noSave bool) []string {
		t.Helper()
		var seen selftest.History
		if _, err := Run(context.Background(), Options{ResultsDir: dir, NoSave: noSave, Registry: deploymentRegistry("c1", &seen),
			Config: config.Defaults(), Report: &report.Options{MotdPath: motd}}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(motd)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	for _, noSave := range []bool{false, true} {
		if l := runMotd(noSave); len(l) != 3 || !strings.HasPrefix(l[0], "atomic-selftest: rolled back from 12.3") || !strings.Contains(l[0], "runtime.service failed: docker.service is failed") {
			t.Fatalf("no-save %v: motd %q", noSave, l)
		}
	}
	if _, err := notice.Acknowledge(context.Background(), dir, "this-boot", time.Second, time.Now()); err != nil {
		t.Fatal(err)
	}
	if l := runMotd(false); len(l) != 1 || !strings.HasPrefix(l[0], "atomic-selftest: PASS") {
		t.Fatalf("after ack: motd %q", l)
	}
}
