package main

import (
	"context"
	"errors"
	"fmt"

	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
)

// The deployments section of `status`, from the pure-Go sysroot reader:
// the live sysroot on a host, an offline one with --sysroot.
func init() {
	statusSections = append(statusSections, statusDeployments)
}

func statusDeployments(_ context.Context, root string, e *env) error {
	s, err := ot.Load(ot.Options{Root: root, Live: root == "/"})
	if errors.Is(err, ot.ErrNotSysroot) && root == "/" {
		fmt.Fprintln(e.stdout, "Deployments: none (not an OSTree host)")
		fmt.Fprintln(e.stdout)
		return nil
	}
	if err != nil {
		return fmt.Errorf("deployments: %w", err)
	}
	if err := ot.WriteStatus(e.stdout, s); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	return nil
}
