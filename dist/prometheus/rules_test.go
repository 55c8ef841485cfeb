// Package prometheus holds the tests of the fleet rules and dashboard
// shipped in this directory: promtool checks and unit-tests the rules, a
// test requires a unit test for every alert both firing and silent, the
// dashboard's queries name only series the host writes or the rules
// record, and an integration test runs the real node_exporter, Prometheus
// and Alertmanager against textfiles the real atomic-selftest wrote.
package prometheus

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

const (
	rulesFile     = "atomic-selftest.rules.yml"
	rulesTestFile = "atomic-selftest.rules.test.yml"
)

// promtool runs Debian's promtool (package prometheus) on the files.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	p := testutil.NeedCommand(t, "prometheus", "promtool")
	out, err := exec.Command(p, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRulesCheck is `promtool check rules`: syntax, PromQL, templates
// and duplicate names.
func TestRulesCheck(t *testing.T) {
	out := promtool(t, "check", "rules", rulesFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules: %s", out)
	}
}

// TestRulesUnit is `promtool test rules`: every alert firing where it
// should, with its labels and annotations, and silent where it should.
func TestRulesUnit(t *testing.T) {
	out := promtool(t, "test", "rules", rulesTestFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: %s", out)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string            `yaml:"alert"`
			Record string            `yaml:"record"`
			Expr   string            `yaml:"expr"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// alerts returns the alert names of the rules file.
func alerts(t *testing.T) []string {
	var rf ruleFile
	readYAML(t, rulesFile, &rf)
	var names []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
				if r.Labels["severity"] == "" {
					t.Errorf("alert %s has no severity label", r.Alert)
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

// TestEveryAlertTestedBothWays fails when an alert lacks a unit test in
// which it fires or one in which it stays silent: a rule nobody proved
// quiet pages people for nothing.
func TestEveryAlertTestedBothWays(t *testing.T) {
	var tf struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, rulesTestFile, &tf)
	if len(tf.RuleFiles) != 1 || tf.RuleFiles[0] != rulesFile {
		t.Errorf("%s tests %v, want [%s]", rulesTestFile, tf.RuleFiles, rulesFile)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	names := alerts(t)
	if len(names) < 8 {
		t.Fatalf("%d alerts in %s, want the 8 of docs/fleet.md: %v", len(names), rulesFile, names)
	}
	for _, n := range names {
		if !fires[n] {
			t.Errorf("%s: no unit test in which it fires", n)
		}
		if !silent[n] {
			t.Errorf("%s: no unit test in which it stays silent", n)
		}
	}
}

// TestFleetDocNamesEveryAlert keeps docs/fleet.md's list of alerts true.
func TestFleetDocNamesEveryAlert(t *testing.T) {
	b, err := os.ReadFile("../../docs/fleet.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range alerts(t) {
		if !regexp.MustCompile(`(?m)^#+ .*` + n + `\b`).Match(b) {
			t.Errorf("docs/fleet.md has no heading for %s", n)
		}
	}
}
