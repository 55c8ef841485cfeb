package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// The run record's JSON Schema is generated from selftest/record's Go
// types, with their doc comments as descriptions, by invopop/jsonschema,
// and committed as dist/schema/run-record.schema.json (the RPM installs it
// under /usr/share/atomic-selftest/schema/). `go test ./selftest/format
// -run TestRecordSchema -update` rewrites it. Real records, from the
// formatter and from the built binary, are validated against the committed
// file with santhosh-tekuri/jsonschema, a draft 2020-12 validator.

const (
	modulePath = "github.com/atomic-selftest/atomic-selftest"
	schemaFile = "dist/schema/run-record.schema.json"
)

// recordSchemaID names the schema and its version: it ends in the record's
// schema version, so a record with "schema": N is described by the schema
// whose $id ends in N.
func recordSchemaID() string {
	return "urn:atomic-selftest:run-record:" + strconv.Itoa(record.SchemaVersion)
}

// generateRecordSchema reflects record.Record. It changes directory to the
// module root for the length of the test, where the comment extractor
// reads selftest/record's source.
func generateRecordSchema(t *testing.T, root string) []byte {
	t.Helper()
	t.Chdir(root)
	r := &jsonschema.Reflector{
		// A field that is not omitempty/omitzero is always written, so it
		// is required; no field outside the Go types may appear.
		AllowAdditionalProperties: false,
		Mapper: func(ty reflect.Type) *jsonschema.Schema {
			if ty == reflect.TypeOf(record.StatusPass) {
				return &jsonschema.Schema{Type: "string", Enum: []any{
					record.StatusPass, record.StatusFail, record.StatusSkip, record.StatusError, record.StatusBlocked}}
			}
			return nil
		},
	}
	if err := r.AddGoComments(modulePath, "selftest/record"); err != nil {
		t.Fatalf("reading selftest/record's doc comments: %v", err)
	}
	s := r.Reflect(&record.Record{})
	s.ID = jsonschema.ID(recordSchemaID())
	s.Title = fmt.Sprintf("atomic-selftest run record, schema version %d", record.SchemaVersion)
	def, ok := s.Definitions["Record"]
	if !ok {
		t.Fatalf("no Record definition in %v", s.Definitions)
	}
	if v, ok := def.Properties.Get("schema"); ok {
		// Readers accept records from version 1 up to this one.
		v.Description = "The run record format's version (record.SchemaVersion): bumped when a field changes meaning. This schema describes versions 1 to " + strconv.Itoa(record.SchemaVersion) + "."
		v.Minimum = "1"
		v.Maximum = json.Number(strconv.Itoa(record.SchemaVersion))
	} else {
		t.Fatal("the Record definition has no schema property")
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestRecordSchemaIsGenerated: the committed schema is what the Go types
// generate today (-update rewrites it).
func TestRecordSchemaIsGenerated(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	got := generateRecordSchema(t, root)
	path := filepath.Join(root, schemaFile)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./selftest/format -run TestRecordSchemaIsGenerated -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what selftest/record generates: run go test ./selftest/format -run TestRecordSchemaIsGenerated -update\n--- generated\n%s", schemaFile, got)
	}
}

func compileRecordSchema(t *testing.T) *validator.Schema {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, schemaFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := validator.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	c := validator.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(recordSchemaID(), doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(recordSchemaID())
	if err != nil {
		t.Fatalf("compiling %s: %v", schemaFile, err)
	}
	return s
}

func validateJSON(t *testing.T, s *validator.Schema, what string, data []byte) {
	t.Helper()
	v, err := validator.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s does not match %s: %v", what, schemaFile, err)
	}
}

// fullRecord sets every field of a record, so that a field the schema
// gets wrong (a wrong type, a missing property) is exercised.
func fullRecord() *record.Record {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	dep := &record.Deployment{OSName: "fedora-coreos", Checksum: "3f2a", Serial: 1, Version: "41.1", Refspec: "fedora:fedora/x86_64/coreos/stable",
		ImageReference: "ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable", ImageDigest: "sha256:00",
		BaseChecksum: "9c1e", LayeredPackages: []string{"vim"}, Pinned: true, CommitTime: at, Rollback: "fedora-coreos/9c1e.0", Deployed: at, BootedAt: at}
	res := []record.Result{
		{ID: "a.b", Criterion: "C1", Required: true, Status: record.StatusFail, Message: "m", Start: at, DurationSec: 0.5,
			Evidence: []record.Evidence{{Name: "n", Expected: "e", Seen: "s"}}, Details: map[string]any{"k": []any{1, "x"}}},
		{ID: "a.c", Criterion: "C2", Required: false, Status: record.StatusBlocked, Start: at},
	}
	return &record.Record{Schema: record.SchemaVersion, ToolVersion: "0.1.0", ID: "run-x", BootID: "b", Hostname: "h", Trigger: record.TriggerBoot,
		Sysroot: "/", Start: at, End: at, Deployment: dep,
		Transition:  &record.Transition{Kind: record.TransitionRollback, From: dep, To: dep, Reason: "r", By: record.TransitionByAtomicSelftest, ActionRecord: "run-w", Expected: dep},
		Expectation: &record.Expectation{Checksum: "3f2a", Version: "41.1", Refspec: "r", Image: "i", Packages: []string{"a"}, AbsentPackages: []string{"b"}, Created: at, CreatedBootID: "b0", Note: "n"},
		Boot:        &record.ManagerState{SystemState: "running", DefaultTarget: "multi-user.target", Virtualization: "kvm", FirmwareUsec: 1, LoaderUsec: 2, KernelUsec: 3, InitRDUsec: 4, UserspaceUsec: 5, FinishUsec: 6},
		Health: &record.Health{Policy: record.HealthRollback, Action: record.HealthRollback, Reason: "r", From: dep, To: dep, Tool: "bootc",
			Failing: []record.FailingCheck{{ID: "a.b", Message: "m"}}, Attempt: 2, MaxAttempts: 2, Stage: record.HealthStageDone, DecidedAt: at, RebootRequestedAt: at, Error: "e"},
		Checks: res, Summary: record.Summarise(res)}
}

// TestRecordsMatchSchema validates the records the json format writes,
// one with every field set, and what the schema must refuse.
func TestRecordsMatchSchema(t *testing.T) {
	s := compileRecordSchema(t)
	runs := append(fixedRecords()["many"], fullRecord(), tapRecord("run-h", "h", time.Now(), hostileResults()))
	for _, rec := range runs {
		var buf bytes.Buffer
		if err := (JSON{}).Write(&buf, []*record.Record{rec}); err != nil {
			t.Fatal(err)
		}
		validateJSON(t, s, "record "+rec.ID, buf.Bytes())
	}

	// The schema is not a rubber stamp: each of these must be refused.
	good, err := json.Marshal(fullRecord())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"unknown status", `"status":"fail"`, `"status":"broken"`},
		{"newer schema version", `"schema":1,`, `"schema":99,`},
		{"start not a date-time", `"start":"2026-12-07T12:00:00Z","end"`, `"start":"yesterday","end"`},
		{"unknown field", `"hostname":"h"`, `"hostname":"h","hostnme":"h"`},
		{"required field missing", `"boot_id":"b",`, ``},
		{"wrong type", `"required":true`, `"required":"yes"`},
	} {
		bad := bytes.Replace(good, []byte(tc.from), []byte(tc.to), 1)
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: %q not found in %s", tc.name, tc.from, good)
		}
		v, err := validator.UnmarshalJSON(bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(v) == nil {
			t.Errorf("%s: the schema accepted %s", tc.name, bad)
		}
	}
}

// TestBinaryRecordsMatchSchema runs the real binary on this machine and
// validates what it prints and what it saved, read back by `results`.
func TestBinaryRecordsMatchSchema(t *testing.T) {
	s := compileRecordSchema(t)
	saved := newSavedResults(t)
	out, err := exec.Command(saved.bin, "run", "--results-dir", saved.dir, "--format", "json").Output()
	// A failing verdict is still a record; only a broken tool prints none.
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("atomic-selftest run: %v", err)
	}
	if len(out) == 0 {
		t.Fatalf("atomic-selftest run printed no record: %v\n%s", err, stderrOf(err))
	}
	validateJSON(t, s, "atomic-selftest run --format json", out)

	saved.save(fullRecord())
	out = saved.results("0", "json")
	var recs []json.RawMessage
	if err := json.Unmarshal(out, &recs); err != nil || len(recs) != 2 {
		t.Fatalf("results --format json: %d records, %v\n%s", len(recs), err, out)
	}
	for i, r := range recs {
		validateJSON(t, s, fmt.Sprintf("results --format json, record %d", i), r)
	}
	files, _ := filepath.Glob(filepath.Join(saved.dir, "run-*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		validateJSON(t, s, f, data)
	}
}
