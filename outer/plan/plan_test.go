package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := `name = "mine"
family = "rpm-ostree"
packages = ["vim-enhanced"]

[[step]]
name = "baseline"
  [[step.action]]
  do = "wait-up"
  [[step.action]]
  do = "collect"

[[step]]
name = "layer"
criterion = "C6"
  [[step.action]]
  do = "run"
  command = ["rpm-ostree", "install", "{package}"]
  changes = "install"
  timeout = "20m"
  [[step.action]]
  do = "expect"
  packages = ["{package}"]
  [[step.action]]
  do = "reboot"
`
	p := filepath.Join(dir, "plan.toml")
	os.WriteFile(p, []byte(good), 0o600)
	plan, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Name != "mine" || len(plan.Steps) != 2 || plan.Steps[1].Actions[0].Timeout.Minutes() != 20 {
		t.Errorf("plan %+v", plan)
	}
	// ignore_pending, the step's key to go on past a failing
	// deployment.pending, loads.
	os.WriteFile(p, []byte(strings.Replace(good, `criterion = "C6"`, "criterion = \"C6\"\nignore_pending = true", 1)), 0o600)
	if plan, err := Load(p); err != nil || !plan.Steps[1].IgnorePending {
		t.Errorf("ignore_pending = true: %v, %+v", err, plan)
	}
	for _, tc := range []struct{ edit, want string }{
		{`criterion = "C6"` + "=>" + `criterion = "C11"`, `step 2 (layer): criterion "C11": want C1 to C10`},
		{`do = "reboot"` + "=>" + `do = "reboots"`, `step 2 (layer): action 3 (reboots): field do: "reboots"`},
		{`changes = "install"` + "=>" + `changes = "layer"`, `step 2 (layer): action 1 (run): field changes: "layer"`},
		{`"{package}"]` + "=>" + `"{pkg}"]`, `placeholder {pkg}`},
		{`packages = ["vim-enhanced"]` + "=>" + ``, `the plan names 0 package(s)`},
		{`timeout = "20m"` + "=>" + `timeout = "soon"`, `soon`},
		{`name = "layer"` + "=>" + `name = "baseline"`, `step 2 (baseline): name used twice`},
		{`family = "rpm-ostree"` + "=>" + `family = "dnf"`, `family "dnf"`},
		{`do = "collect"` + "=>" + "do = \"collect\"\n  command = [\"x\"]", `step 1 (baseline): action 2 (collect): field command`},
		{`name = "mine"` + "=>" + `nmae = "mine"`, `unknown field nmae`},
		{`criterion = "C6"` + "=>" + "criterion = \"C6\"\nexpect_pending = \"fail\"\nignore_pending = true", `step 2 (layer): ignore_pending with expect_pending = "fail"`},
		{`criterion = "C6"` + "=>" + "criterion = \"C6\"\nignore_pending = \"yes\"", `ignore_pending`},
	} {
		from, to, _ := strings.Cut(tc.edit, "=>")
		os.WriteFile(p, []byte(strings.Replace(good, from, to, 1)), 0o600)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got %v, want %q", tc.edit, err, tc.want)
		}
	}
	for name, mk := range Profiles {
		if err := mk().Validate(); err != nil {
			t.Errorf("built-in profile %s: %v", name, err)
		}
	}
}

// The testbed's plans (outer/testbed/*.toml, run only by the VM suite)
// load and validate here, so a typo fails in seconds, not after a boot.
func TestTestbedPlansLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testbed", "*.toml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("testbed plans: %v %v", files, err)
	}
	for _, f := range files {
		p, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(p.Steps) == 0 {
			t.Errorf("%s: no steps", f)
		}
	}
}
