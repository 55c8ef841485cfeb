package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/outer"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := mainCode(context.Background(), args, &out, &errb, false)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"run"}, "no hosts"},
		{[]string{"run", "--host", "h"}, "no credentials"},
		{[]string{"run", "--host", "h:99999", "-i", "k"}, `port "99999" is not a port`},
		{[]string{"run", "--host", "h", "-i", "k", "--profile", "nope"}, `--profile "nope"`},
		{[]string{"run", "--host", "h", "-i", "k", "--plan", "p.toml", "--profile", "ostree"}, "exclude each other"},
		{[]string{"run", "--host", "h", "-i", "k", "--parallel", "0"}, "--parallel 0"},
		{[]string{"run", "--host", "h", "-i", "k", "--reboot-timeout", "0s"}, "--reboot-timeout 0s"},
		{[]string{"run", "--host", "h", "-i", "/nonexistent/key"}, "no such file"},
		{[]string{"run", "--inventory", "/nonexistent/hosts", "-i", "k"}, "inventory"},
		{[]string{"run", "--profile", "ostree", "--package", "x", "--host", "h", "-i", "k"}, ""},
	} {
		code, _, stderr := run(t, tc.args...)
		if tc.want == "" {
			continue // only checks that it does not panic
		}
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The printed plans are valid plan files equal to the built-in ones.
func TestPlanRoundTrip(t *testing.T) {
	for name, mk := range outer.Profiles {
		code, out, _ := run(t, "plan", "--profile", name)
		if code != 0 {
			t.Fatalf("plan %s: exit %d", name, code)
		}
		p := filepath.Join(t.TempDir(), "plan.toml")
		os.WriteFile(p, []byte(out), 0o600)
		got, err := outer.LoadPlan(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := mk(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip differs:\n%+v\n%+v", name, got, want)
		}
	}
}

// A host that never answers: the run ends within its bounds with exit 1,
// every step failed with the reason, and the reports written.
func TestRunUnreachableHost(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	key := filepath.Join(dir, "id")
	os.WriteFile(key, pem.EncodeToMemory(block), 0o600)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	arts := filepath.Join(dir, "artifacts")
	code, out, stderr := run(t, "run", "--host", addr, "-i", key, "--known-hosts", filepath.Join(dir, "kh"),
		"--reboot-timeout", "1s", "--connect-timeout", "500ms", "--artifacts", arts)
	if code != ExitFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "baseline              error") || !strings.Contains(out, "did not answer within 1s") || !strings.Contains(out, "plan default: FAIL") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(stderr, "baseline: error") {
		t.Errorf("progress lines:\n%s", stderr)
	}
	for _, n := range []string{"junit.xml", "report.json", "criteria.txt"} {
		if _, err := os.Stat(filepath.Join(arts, n)); err != nil {
			t.Error(err)
		}
	}
}
