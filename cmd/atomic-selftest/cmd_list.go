package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

type listOptions struct {
	format string
}

var listOpts listOptions

func init() {
	register(&command{
		name:  "list",
		short: "list every check with its criterion and what it verifies",
		usage: "list [--format text|json]",
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&listOpts.format, "format", "text", "output format: text or json")
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
	TimeoutSec  float64  `json:"timeout_s"`
	Depends     []string `json:"depends,omitempty"`
	Description string   `json:"description"`
}

func runList(_ context.Context, e *env, o listOptions, args []string) error {
	if len(args) > 0 {
		return usageErr("list takes no arguments")
	}
	var entries []listEntry
	for _, c := range selftest.Default.All() {
		t := c.Timeout
		if t == 0 {
			t = selftest.DefaultTimeout
		}
		entries = append(entries, listEntry{c.ID, c.Criterion, c.Required, c.Offline, t.Seconds(), c.Depends, c.Description})
	}
	switch o.format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	case "text":
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tCRIT\tKIND\tVERIFIES")
		for _, c := range entries {
			kind := "required"
			if !c.Required {
				kind = "wanted"
			}
			desc := c.Description
			if len(c.Depends) > 0 {
				desc += " (after " + strings.Join(c.Depends, ", ") + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Criterion, kind, desc)
		}
		return tw.Flush()
	}
	return usageErr("--format: %q is not one of text, json", o.format)
}
