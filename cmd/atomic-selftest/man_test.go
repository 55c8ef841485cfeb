package main

import (
	"sort"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/cmd/internal/mangen"
)

// manPage describes atomic-selftest(8) around the commands' own flag sets.
func manPage() *mangen.Page {
	p := &mangen.Page{
		Name:    "atomic-selftest",
		Section: 8,
		Summary: "verify an OSTree container host against its release criteria",
		Description: `atomic-selftest checks that an OSTree container host meets its release criteria C1 to C10: the tree booted and was written, the container storage is set up, the container runtime starts and runs containers, system containers install and start, cloud-init applied its user data, and an upgrade, rollback, deploy or package layering left the deployment the CI driver expected. ` + "`atomic-selftest list`" + ` prints every check and what each criterion means.

The units atomic-selftest.service (on every boot) and atomic-selftest-deployment.path (when ostree writes a new set of deployments) run it; admins run it by hand too. Each run is saved under /var/lib/atomic-selftest, reported to the journal (one entry per check, MESSAGE_ID=4d0b5c3f3c8e4a8e9a3f6a1d2b7c9e02, and a summary, MESSAGE_ID=4d0b5c3f3c8e4a8e9a3f6a1d2b7c9e01), to systemd with sd_notify STATUS= and in /run/motd.d/atomic-selftest.

Checks run in parallel under their dependencies and timeouts. A check's status is pass, fail, skip (with the reason), error (the check broke) or blocked (a check it depends on did not pass). Required checks decide the exit status; a wanted check's failure is a warning.`,
		ExitStatus: exitStatusHelp,
		Files: [][2]string{
			{"/var/lib/atomic-selftest/", "results (0700): one run record per run, run-<UTC start>-<boot id prefix>.json; last-deployment.json and last-run.json; expect.json, the expectation the outer driver left for the next boot; .lock, which keeps two runs from interleaving"},
			{"/run/motd.d/atomic-selftest", "the last run's one-line summary, shown at login"},
			{"/usr/lib/atomic-selftest/config.d/*.toml", "vendor configuration; 00-defaults.toml documents every key with its default"},
			{"/etc/atomic-selftest/config.d/*.toml", "admin configuration, read after the vendor's"},
			{"/usr/lib/atomic-selftest/check.d/{required,wanted}/", "the vendor's site checks: each executable is a check site.<file name>; exit 0 passes, 77 skips, anything else fails"},
			{"/etc/atomic-selftest/check.d/{required,wanted}/", "the admin's site checks; a file masks the vendor's of the same name"},
		},
		SeeAlso: []string{"atomic-selftest-outer(1)", "ostree(1)", "rpm-ostree(1)", "journalctl(1)", "systemctl(1)"},
	}
	order := map[string]int{"run": 1, "list": 2, "results": 3, "status": 4, "expect": 5, "version": 6}
	var names []string
	for n, c := range commands {
		if c.short != "" { // hidden commands (probe) have no summary
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if order[names[i]] != order[names[j]] {
			return order[names[i]] != 0 && (order[names[j]] == 0 || order[names[i]] < order[names[j]])
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		c := commands[n]
		p.Commands = append(p.Commands, mangen.Command{Name: c.name, Usage: c.usage, Short: c.short, Flags: c.flagSet()})
	}
	return p
}

// The man page and the completions under dist/ are rendered from the
// commands' flag sets: a flag added without
// `go test ./cmd/atomic-selftest -run Manual -update` fails here.
func TestManualAndCompletionsAreGenerated(t *testing.T) {
	mangen.CheckCommitted(t, manPage(), "../../dist", *update, "go test ./cmd/atomic-selftest -run Manual -update")
}
