package main

import (
	"context"
	"fmt"
	"runtime"

	atomicselftest "github.com/atomic-selftest/atomic-selftest"
)

func init() {
	register(&command{
		name:  "version",
		short: "print the version",
		usage: "version",
		run: func(_ context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usageErr("version takes no arguments")
			}
			fmt.Fprintf(e.stdout, "atomic-selftest %s (%s, %s/%s)\n", atomicselftest.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	})
}
