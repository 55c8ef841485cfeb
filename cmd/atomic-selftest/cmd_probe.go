package main

import (
	"context"

	"github.com/spf13/pflag"

	atomicselftest "github.com/atomic-selftest/atomic-selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

type probeOptions struct {
	nonce string
}

var probeOpts probeOptions

// probe is run inside the self-test's own probe containers; it is left
// out of the command list because nobody runs it by hand.
func init() {
	register(&command{
		name:  "probe",
		usage: "probe --nonce N",
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&probeOpts.nonce, "nonce", "", "the nonce to echo in the marker")
		},
		run: func(_ context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usageErr("probe takes no arguments")
			}
			if probeOpts.nonce == "" {
				return usageErr("--nonce: required")
			}
			return probe.Write(e.stdout, probe.Inspect(probeOpts.nonce, atomicselftest.Version))
		},
	})
}
