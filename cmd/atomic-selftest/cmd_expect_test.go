package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/session"
)

func TestRunSysrootBootloader(t *testing.T) {
	sr, c2, _ := ostreetest.TwoDeployments(t)
	code, out, errs := cli(t, "run", "--sysroot", sr.Dir, "--check", "ostree.bootloader", "--no-save", "--report", "no")
	if code != ExitOK || !strings.Contains(out, "PASS") || !strings.Contains(out, "2 entries boot 2 deployments") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	kernels, _ := filepath.Glob(filepath.Join(sr.Dir, "boot", "ostree", "fedora-atomic-*", "vmlinuz-*"))
	if len(kernels) != 2 {
		t.Fatalf("kernels %v", kernels)
	}
	// Remove the kernel of the default (newest) deployment's entry.
	var victim string
	entries, _ := filepath.Glob(filepath.Join(sr.Dir, "boot", "loader", "entries", "*.conf"))
	for _, e := range entries {
		data, _ := os.ReadFile(e)
		if strings.Contains(string(data), "28.2") {
			for _, l := range strings.Split(string(data), "\n") {
				if k, ok := strings.CutPrefix(l, "linux "); ok {
					victim = k
				}
			}
		}
	}
	if err := os.Remove(filepath.Join(sr.Dir, "boot", victim)); err != nil {
		t.Fatal(err)
	}
	code, out, _ = cli(t, "run", "--sysroot", sr.Dir, "--check", "ostree.bootloader", "--no-save", "--report", "no")
	if code != ExitFailed || !strings.Contains(out, "of deployment "+c2[:10]+"….0: kernel /boot"+victim+" is missing") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestStatusSysroot(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	sr.Pin(1)
	// 28.2 as rpm-ostree leaves a layered deployment (origin shape from
	// rust/src/origin.rs in coreos/rpm-ostree).
	sr.WriteOrigin("fedora-atomic", c2, 0, "[origin]\nbaserefspec="+ostreetest.Branch+"\n[packages]\nrequested=htop;strace;\n")
	code, out, errs := cli(t, "status", "--sysroot", sr.Dir)
	i2, i1 := strings.Index(out, "Commit: "+c2+".0"), strings.Index(out, "Commit: "+c1+".0")
	if code != ExitOK || i2 < 0 || i1 < i2 || !strings.Contains(out, "Version: 28.2 (") ||
		!strings.Contains(out, "  ostree://"+ostreetest.Branch) || !strings.Contains(out[i1:], "Pinned: yes") || !strings.Contains(out[:i1], "LayeredPackages: htop strace") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

func TestExpectLifecycle(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range [][]string{
		{"--checksum", "xyz"},
		{"--version", "1", "--refspec", "r"},
		{"--show", "--clear"},
		{"--show", "--version", "1"},
		{"--package", "a", "--absent-package", "a"},
		{"--image", "quay.io/x:1", "--checksum", "abcd"},
		{"--image", "quay.io/x:1@sha256:short"},
		{"--show", "--image", "quay.io/x:1"},
		{},
	} {
		code, _, errs := cli(t, append([]string{"expect", "--results-dir", dir}, bad...)...)
		if code != ExitUsage || errs == "" {
			t.Errorf("expect %v: exit %d %q", bad, code, errs)
		}
	}
	code, out, errs := cli(t, "expect", "--results-dir", dir, "--version", "28.2", "--package", "htop", "--absent-package", "docker", "--note", "upgrade step")
	if code != ExitOK {
		t.Fatalf("exit %d %s %s", code, out, errs)
	}
	fi, err := os.Stat(filepath.Join(dir, "expect.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("expect.json %v %v", fi, err)
	}
	_, out, _ = cli(t, "expect", "--results-dir", dir, "--show")
	var ex record.Expectation
	if err := json.Unmarshal([]byte(out), &ex); err != nil || ex.Version != "28.2" || ex.CreatedBootID != session.ReadBootID() || ex.Packages[0] != "htop" || ex.Created.IsZero() {
		t.Fatalf("%v %+v\n%s", err, ex, out)
	}

	// --image is kept as given, digest and all.
	imgDir := t.TempDir()
	const img = "ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable@sha256:d12dd2fcb57ecfde0941be604f4dcd43ce0409b86e5ee4e362184c802b80fb84"
	if code, out, errs := cli(t, "expect", "--results-dir", imgDir, "--image", img); code != ExitOK {
		t.Fatalf("--image: exit %d %s %s", code, out, errs)
	}
	_, out, _ = cli(t, "expect", "--results-dir", imgDir, "--show")
	var imgEx record.Expectation
	if err := json.Unmarshal([]byte(out), &imgEx); err != nil || imgEx.Image != img {
		t.Fatalf("--image: %v %+v\n%s", err, imgEx, out)
	}

	// A run on the boot that left it does not consume it.
	run := []string{"run", "--results-dir", dir, "--report", "no", "--check", "deployment.expected"}
	cli(t, run...)
	if _, err := os.Stat(filepath.Join(dir, "expect.json")); err != nil {
		t.Fatalf("consumed on the same boot: %v", err)
	}
	// As if left on an earlier boot: the next run consumes it into its
	// record and removes the file.
	ex.CreatedBootID = "0123456789abcdef"
	data, _ := json.Marshal(ex)
	os.WriteFile(filepath.Join(dir, "expect.json"), data, 0o600)
	cli(t, run...)
	if _, err := os.Stat(filepath.Join(dir, "expect.json")); !os.IsNotExist(err) {
		t.Errorf("expect.json still there: %v", err)
	}
	_, out, _ = cli(t, "results", "--results-dir", dir, "--format", "json")
	if !strings.Contains(out, `"note": "upgrade step"`) {
		t.Errorf("the record does not hold the expectation:\n%s", out)
	}
	_, out, _ = cli(t, "expect", "--results-dir", dir, "--show")
	if strings.TrimSpace(out) != "no expectation pending" {
		t.Errorf("show: %q", out)
	}
	cli(t, "expect", "--results-dir", dir, "--checksum", "abcd1234")
	_, out, _ = cli(t, "expect", "--results-dir", dir, "--clear")
	if strings.TrimSpace(out) != "expectation cleared" {
		t.Errorf("clear: %q", out)
	}
}
