package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

type listOptions struct {
	format string
}

var listOpts listOptions

func init() {
	register(&command{
		name:  "list",
		short: "list every check with its criterion and what it verifies",
		usage: "list [--format text|json|markdown]",
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&listOpts.format, "format", "text", "output format: text (with the criteria legend), json or markdown (the check table of the docs)")
		},
		run: func(ctx context.Context, e *env, args []string) error { return runList(ctx, e, listOpts, args) },
	})
}

// listEntry is one check as `list --format json` prints it.
type listEntry struct {
	ID          string   `json:"id"`
	Criterion   string   `json:"criterion"`
	Required    bool     `json:"required"`
	Offline     bool     `json:"offline"`
	HostState   bool     `json:"host_state,omitempty"`
	TimeoutSec  float64  `json:"timeout_s"`
	Depends     []string `json:"depends,omitempty"`
	Description string   `json:"description"`
}

func (c listEntry) kind() string {
	if c.Required {
		return "required"
	}
	return "wanted"
}

// verifies is the description with the checks it runs after.
func (c listEntry) verifies() string {
	if len(c.Depends) == 0 {
		return c.Description
	}
	return c.Description + " (after " + strings.Join(c.Depends, ", ") + ")"
}

// listEntries lists the registered checks; with found, also the site's
// checks this host's directories hold now (check.d, and greenboot's where
// its configuration turns them on), as a run would find them.
func listEntries(found bool) []listEntry {
	reg := selftest.Default
	if found {
		cfg, err := config.Load("/")
		if err != nil {
			cfg = config.Defaults()
		}
		rc := selftest.NewRunContext(selftest.NewHost("/"), cfg)
		reg, _ = reg.ForRun(rc)
	}
	var entries []listEntry
	for _, c := range reg.All() {
		t := c.Timeout
		if t == 0 {
			t = selftest.DefaultTimeout
		}
		entries = append(entries, listEntry{c.ID, c.Criterion, c.Required, c.Offline, c.HostState, t.Seconds(), c.Depends, c.Description})
	}
	return entries
}

func runList(_ context.Context, e *env, o listOptions, args []string) error {
	if len(args) > 0 {
		return usageErr("list takes no arguments")
	}
	// The docs' table (markdown) is the binary's checks, the same on
	// every machine; text and json show this host's site checks too.
	entries := listEntries(o.format != "markdown")
	switch o.format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	case "markdown":
		return writeCheckTable(e.stdout, entries)
	case "text":
		// The release criteria's checks first, then the host's health,
		// then the site's own checks: each group in its own place.
		sort.SliceStable(entries, func(i, j int) bool {
			return groupRank(entries[i].Criterion) < groupRank(entries[j].Criterion)
		})
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tCRIT\tKIND\tVERIFIES")
		for _, c := range entries {
			// A site check's description names a host file: escaped.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Criterion, c.kind(), record.Printable(c.verifies()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "\nCRITERIA")
		tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		for _, c := range selftest.Criteria {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ID, legendGroup(c.ID), c.Text)
		}
		return tw.Flush()
	}
	return usageErr("--format: %q is not one of text, json, markdown", o.format)
}

// legendGroup is the group column of the legend: the release criteria,
// or the group a category outside them belongs to.
func legendGroup(criterion string) string {
	g := record.GroupOf(criterion)
	if g == record.GroupRelease {
		return "release criterion"
	}
	return record.GroupTitle(g) + ", not a release criterion"
}

// groupRank orders a criterion's group as record.Groups does.
func groupRank(criterion string) int {
	return slices.Index(record.Groups, record.GroupOf(criterion))
}

// writeCheckTable writes the check table the README and docs/criteria.md
// carry between their <!-- checks:begin --> and <!-- checks:end -->
// markers: one row per check, in the registry's order.
func writeCheckTable(w io.Writer, entries []listEntry) error {
	var b strings.Builder
	b.WriteString("| id | criterion | kind | offline | verifies |\n")
	b.WriteString("|----|-----------|------|---------|----------|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, c := range entries {
		offline := "no"
		switch {
		case c.HostState:
			// Runs under --sysroot, not against a pending tree
			// (deployment.pending): it judges /var, /boot or the repository.
			offline = "sysroot"
		case c.Offline:
			offline = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.ID, c.Criterion, c.kind(), offline, cell(c.verifies()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
