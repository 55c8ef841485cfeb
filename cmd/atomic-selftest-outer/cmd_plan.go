package main

import (
	"errors"
	"io"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// cmdPlan prints a built-in plan as a TOML plan file, to start one's own
// from.
func cmdPlan(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("plan", pflag.ContinueOnError)
	profile := planFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError(err)
	}
	p, err := choosePlan("", *profile, true)
	if err != nil {
		return err
	}
	if p.Auto {
		return usagef("--profile auto: the plan is chosen per host at run time; print bootc, default, rpm-ostree or ostree")
	}
	return toml.NewEncoder(stdout).Encode(p)
}

// planFlags registers the flags of `plan` (the man page and completions are
// made from them too) and returns the profile's.
func planFlags(fs *pflag.FlagSet) *string {
	return fs.String("profile", "default", "the built-in plan to print: bootc, default, rpm-ostree or ostree (auto picks one of them per host at run time)")
}
