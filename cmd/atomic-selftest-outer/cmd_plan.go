package main

import (
	"context"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// planOptions are the flags of `plan`.
type planOptions struct {
	profile string
}

func (o *planOptions) flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.profile, "profile", "default", "the built-in plan to print: bootc, default, rpm-ostree or ostree (auto picks one of them per host at run time)")
}

var planCommand = &command{
	name:  "plan",
	usage: "plan [--profile NAME]",
	short: "print a built-in plan as TOML",
	help:  "Prints a built-in plan as a TOML plan file, to start one's own from (run --plan FILE).\n",
	flags: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
		var o planOptions
		o.flags(fs)
		return func(ctx context.Context, e *env, args []string) error { return runPlan(ctx, e, o, args) }
	},
}

// runPlan prints a built-in plan as a TOML plan file.
func runPlan(_ context.Context, e *env, o planOptions, args []string) error {
	if len(args) > 0 {
		return usagef("plan takes no arguments (got %q)", args)
	}
	p, err := choosePlan("", o.profile, true)
	if err != nil {
		return err
	}
	if p.Auto {
		return usagef("--profile auto: the plan is chosen per host at run time; print bootc, default, rpm-ostree or ostree")
	}
	return toml.NewEncoder(e.stdout).Encode(p)
}
