package main

import (
	"flag"
	"testing"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/cmd/internal/mangen"
)

var update = flag.Bool("update", false, "rewrite dist/man and dist/completion from the commands' flags")

// manPage describes atomic-selftest-outer(1) around the commands' own
// flag sets.
func manPage() *mangen.Page {
	run := pflag.NewFlagSet("run", pflag.ContinueOnError)
	run.SortFlags = false
	(&runOptions{}).flags(run)
	// The default is the running user's home: the page shows it as the
	// shell writes it, so it is the same wherever it is generated.
	run.Lookup("known-hosts").DefValue = "~/.ssh/known_hosts"
	plan := pflag.NewFlagSet("plan", pflag.ContinueOnError)
	(&planOptions{}).flags(plan)
	return &mangen.Page{
		Name:    "atomic-selftest-outer",
		Section: 1,
		Summary: "cycle OSTree hosts through upgrade, rollback, deploy and layering reboots and collect their self-test results",
		Description: `atomic-selftest-outer drives OSTree hosts from outside, over SSH or as local QEMU guests, through the reboot cycles that prove the release criteria C3 to C6. A plan is a list of steps; each runs a deployment command (rpm-ostree and atomic host upgrade, rollback, deploy and install; ostree admin on plain OSTree hosts), leaves an expectation with ` + "`atomic-selftest expect`" + `, reboots the host, waits for a new boot id and for the run record of that boot's self-test, and collects it.

Hosts run in parallel, each independent: a host that does not come back fails its own step with the last console or journal lines, and the others go on. SSH host keys are always checked; a changed key is refused. SIGINT or SIGTERM ends the running steps and writes the reports of what ran.

The artifacts directory gets junit.xml (one testsuite per host and step), report.json, criteria.txt (the table of criteria by step printed at the end) and, per host and step, the host's run record, its deployment status before and after, its journal and console.`,
		Commands: []mangen.Command{
			{Name: "run", Usage: "run (--host [USER@]HOST[:PORT]... | --inventory FILE | --qemu-image IMAGE...) (-i KEYFILE | --agent) [OPTIONS]", Short: "run a plan against hosts", Flags: run},
			{Name: "plan", Usage: "plan [--profile default|ostree]", Short: "print a built-in plan as TOML, to start a plan file from", Flags: plan},
		},
		ExitStatus: exitStatusHelp,
		Files: [][2]string{
			{"~/.ssh/known_hosts", "the host keys checked by default (--known-hosts)"},
			{"./atomic-selftest-outer-<time>/", "the artifacts directory by default (--artifacts): junit.xml, report.json, criteria.txt and <host>/<NN-step>/ with record.json, status-before.txt, status-after.txt, journal.txt, console.txt, tail.txt and step.json"},
			{"/var/lib/atomic-selftest/", "on each host: the run records the driver waits for and collects"},
		},
		SeeAlso: []string{"atomic-selftest(8)", "ssh(1)", "qemu-system-x86_64(1)", "rpm-ostree(1)", "ostree(1)"},
	}
}

// The man page and the completions under dist/ are rendered from the
// commands' flag sets: a flag added without
// `go test ./cmd/atomic-selftest-outer -run Manual -update` fails here.
func TestManualAndCompletionsAreGenerated(t *testing.T) {
	mangen.CheckCommitted(t, manPage(), "../../dist", *update, "go test ./cmd/atomic-selftest-outer -run Manual -update")
}
