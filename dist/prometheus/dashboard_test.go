package prometheus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/atomic-selftest/atomic-selftest/selftest/format"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

const dashboardFile = "atomic-selftest-fleet.dashboard.json"

// dashboard is what the tests read of Grafana's dashboard JSON model
// (grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/).
type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name, Type, Query string
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// TestDashboardModel checks what Grafana needs to import the dashboard:
// a uid, unique panel ids, every query on the ${datasource} variable,
// which must be a Prometheus data source variable.
func TestDashboardModel(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q", d.UID, d.Title)
	}
	if len(d.Templating.List) != 1 || d.Templating.List[0].Name != "datasource" || d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Query != "prometheus" {
		t.Errorf("templating: want one Prometheus datasource variable, got %+v", d.Templating.List)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %q, want ${datasource}", p.Title, p.Datasource.UID)
		}
		if p.Type != "alertlist" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
}

// TestDashboardQueries has promtool parse every query of the dashboard
// (as the expressions of recording rules: `promtool check rules` parses
// PromQL offline) and requires every series a query names to be one the
// host writes, one the shipped rules record, or node_exporter's.
func TestDashboardQueries(t *testing.T) {
	d := readDashboard(t)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			rules = append(rules, rule{Record: fmt.Sprintf("dashboard:panel%d:%s", p.ID, q.RefID), Expr: q.Expr})
		}
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", f)

	known := knownSeries(t)
	name := regexp.MustCompile(`\b(atomic_selftest_[a-z_]+|node_[a-z_]+|[a-z_]+:[a-z_]+:[a-z_]+)\b`)
	for _, r := range rules {
		for _, n := range name.FindAllString(r.Expr, -1) {
			if !known[n] {
				t.Errorf("%s: %s is neither written by the host, recorded by %s nor node_exporter's", r.Record, n, rulesFile)
			}
		}
	}
}

// knownSeries are the names the host's Prometheus output can hold (from
// a record that has every part), the rules' recorded names and the
// node_exporter series the rules read.
func knownSeries(t *testing.T) map[string]bool {
	known := map[string]bool{"node_boot_time_seconds": true, "node_textfile_scrape_error": true}
	now := time.Now()
	d := &record.Deployment{OSName: "o", Version: "1", BootedAt: now}
	rec := &record.Record{Start: now, End: now, Deployment: d,
		Transition: &record.Transition{Kind: "upgrade", From: d, To: d},
		Health:     &record.Health{Action: "rollback"},
		Boot:       &record.ManagerState{KernelUsec: 1, FinishUsec: 2},
		Checks:     []record.Result{{ID: "a.b", Status: record.StatusPass}}}
	for _, mf := range format.PrometheusFamilies(rec) {
		known[mf.GetName()] = true
	}
	var rf ruleFile
	readYAML(t, rulesFile, &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = true
			}
		}
	}
	return known
}

// dashboardQueries returns each panel's queries, for the fleet test to
// run against the real Prometheus.
func dashboardQueries(t *testing.T) map[string][]string {
	q := map[string][]string{}
	for _, p := range readDashboard(t).Panels {
		for _, tg := range p.Targets {
			q[p.Title] = append(q[p.Title], strings.TrimSpace(tg.Expr))
		}
	}
	return q
}
