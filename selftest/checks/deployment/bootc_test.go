package deployment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/bootc"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// bootcStandIn answers `bootc status --format=json --format-version=1`
// with doc, as bootc would (it cannot run here); any other command is
// not installed. doc nil: bootc itself is not installed.
type bootcStandIn struct{ doc []byte }

func (b *bootcStandIn) Command(_ context.Context, _ time.Duration, argv ...string) ([]byte, []byte, error) {
	if b.doc == nil || !slices.Equal(argv, bootc.StatusArgv) {
		return nil, nil, fmt.Errorf("running %s: %w", argv[0], exec.ErrNotFound)
	}
	return b.doc, nil, nil
}

// The digests and image of bootc's fixture spec-staged-booted.yaml
// (selftest/bootc/testdata/README.md): its booted and staged entries.
const (
	fixtureImage         = "quay.io/example/someimage:latest"
	fixtureBootedDigest  = "sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34"
	fixtureBootedSum     = "26836632adf6228d64ef07a26fd3efaf177104efd1f341a2cf7909a3e4e2c72c"
	fixtureStagedDigest  = "sha256:16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566"
	fixtureStagedSum     = "3c6dad657109522e0b2e49bf44b5420f16f0b438b5b9357e5132211cfbad135d"
	containerImageOrigin = "[origin]\ncontainer-image-reference=ostree-unverified-registry:" + fixtureImage + "\n"
)

// bootcFixture returns bootc's spec-staged-booted fixture as bootc
// would print it for the sysroot built below: the booted entry's
// checksum is the booted commit's, and the staged entry, which ostree
// cannot make here without a running system, is the rollback.
func bootcFixture(t *testing.T, booted, rollback string, edit func(status map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "bootc", "testdata", "spec-staged-booted.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer(fixtureBootedSum, booted, fixtureStagedSum, rollback).Replace(string(data))
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	st := m["status"].(map[string]any)
	st["rollback"], st["staged"] = st["staged"], nil
	st["rollbackQueued"] = false
	if edit != nil {
		edit(st)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBootcAgrees(t *testing.T) {
	// Two container-image deployments of one image, as bootc leaves
	// them: an origin with container-image-reference and commits that
	// carry ostree-rs-ext's ostree.manifest-digest.
	sr := ostreetest.New(t, "default")
	const branch = "ostree/container/image/test"
	older := sr.Commit(branch, "nightly", "a", "--add-metadata-string=ostree.manifest-digest="+fixtureStagedDigest)
	sr.Deploy("default", branch)
	newer := sr.Commit(branch, "nightly", "b", "--add-metadata-string=ostree.manifest-digest="+fixtureBootedDigest)
	sr.Deploy("default", branch)
	sr.WriteOrigin("default", older, 0, containerImageOrigin)
	sr.WriteOrigin("default", newer, 0, containerImageOrigin)
	root := sr.BootedRoot("default", newer, 0, false)
	h := ostreetest.LiveHost(root)

	run := func(doc []byte) (record.Result, *record.Record) {
		h.Commands = &bootcStandIn{doc: doc}
		rec := checktest.Run(h, checktest.Registered(t, "ostree.booted"), checktest.Registered(t, "deployment.bootc-agrees"))
		for _, r := range rec.Checks {
			if r.ID == "deployment.bootc-agrees" {
				return r, rec
			}
		}
		t.Fatal("deployment.bootc-agrees did not run")
		return record.Result{}, nil
	}

	r, rec := run(bootcFixture(t, newer, older, nil))
	checktest.Expect(t, r, record.StatusPass, "bootc agrees on booted "+fixtureImage+"@736b359467…, rollback "+fixtureImage+"@16dc2b6256… (rollbackQueued false)")
	if d := rec.Deployment; d == nil || d.Checksum != newer || d.ImageReference != "ostree-unverified-registry:"+fixtureImage || d.ImageDigest != fixtureBootedDigest {
		t.Errorf("record deployment %+v, want %s with the image and digest %s", d, newer, fixtureBootedDigest)
	}

	for _, tc := range []struct {
		name   string
		doc    []byte
		status record.Status
		want   string
	}{
		{"bootc not installed", nil, record.StatusSkip, "bootc is not installed"},
		{"not managed", mustRead(t, "spec-v1-null.json"), record.StatusSkip, "bootc does not manage this host (its status.booted is null)"},
		{"rollback queued", bootcFixture(t, newer, older, func(st map[string]any) { st["rollbackQueued"] = true }),
			record.StatusFail, "rollbackQueued: bootc says true, the sysroot false (rollback at index 1, booted at 0)"},
		{"other digest", bootcFixture(t, newer, older, func(st map[string]any) {
			st["booted"].(map[string]any)["image"].(map[string]any)["imageDigest"] = fixtureStagedDigest
		}), record.StatusFail, "booted: bootc says imageDigest " + fixtureStagedDigest + ", the sysroot " + fixtureBootedDigest},
		{"other image", bootcFixture(t, newer, older, func(st map[string]any) {
			st["booted"].(map[string]any)["image"].(map[string]any)["image"].(map[string]any)["image"] = "quay.io/example/other:1"
		}), record.StatusFail, "booted: bootc says image quay.io/example/other:1, the sysroot " + fixtureImage},
		{"other version", bootcFixture(t, newer, older, func(st map[string]any) {
			st["booted"].(map[string]any)["image"].(map[string]any)["version"] = "42.1"
		}), record.StatusFail, "booted: bootc says version 42.1, the sysroot nightly"},
		{"swapped", bootcFixture(t, older, newer, nil), record.StatusFail, "booted: bootc says ostree.checksum " + older + ", the sysroot " + newer},
		{"no rollback", bootcFixture(t, newer, older, func(st map[string]any) { st["rollback"] = nil }),
			record.StatusFail, "rollback: bootc has none, the sysroot default-" + older + ".0"},
		{"garbage", []byte("error: unknown option --format-version"), record.StatusFail, "decoding bootc status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := run(tc.doc)
			checktest.Expect(t, r, tc.status, tc.want)
		})
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "bootc", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// expect --image: the booted container image and its digest against the
// expectation, on a real sysroot whose origin follows an image.
func TestExpectedImage(t *testing.T) {
	sr := ostreetest.New(t, "default")
	c := sr.Commit("ostree/container/image/test", "nightly", "a", "--add-metadata-string=ostree.manifest-digest="+fixtureBootedDigest)
	sr.Deploy("default", c)
	sr.WriteOrigin("default", c, 0, containerImageOrigin)
	h := ostreetest.LiveHost(sr.BootedRoot("default", c, 0, false))

	h.History.Expectation = &record.Expectation{Image: fixtureImage + "@" + fixtureBootedDigest}
	r, rec := checktest.WithDepends(t, h, "deployment.expected")
	checktest.Expect(t, r, record.StatusPass, "booted default "+c[:10])
	if rec.Deployment == nil || rec.Deployment.ImageDigest != fixtureBootedDigest || rec.Deployment.ImageReference != "ostree-unverified-registry:"+fixtureImage {
		t.Errorf("record deployment %+v", rec.Deployment)
	}
	h.History.Expectation = &record.Expectation{Image: fixtureImage + "@" + fixtureStagedDigest}
	r, _ = checktest.WithDepends(t, h, "deployment.expected")
	checktest.Expect(t, r, record.StatusFail, "booted "+c[:10]+"…: image ostree-unverified-registry:"+fixtureImage+" has digest "+fixtureBootedDigest+", expected "+fixtureStagedDigest)
	h.History.Expectation = &record.Expectation{Image: "quay.io/example/other:latest"}
	r, _ = checktest.WithDepends(t, h, "deployment.expected")
	checktest.Expect(t, r, record.StatusFail, "the deployment follows ostree-unverified-registry:"+fixtureImage+", expected quay.io/example/other:latest")
}
