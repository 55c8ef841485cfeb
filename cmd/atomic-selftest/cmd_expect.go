package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/expect"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/session"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

type expectOptions struct {
	checksum, version, refspec string
	image                      string
	packages, absent           []string
	note                       string
	show, clear                bool
	resultsDir                 string
}

var expectOpts expectOptions

func (o *expectOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.checksum, "checksum", "", "the next boot must run the commit whose checksum starts with `C`")
	fs.StringVar(&o.version, "version", "", "the next boot must run a commit with version `V`")
	fs.StringVar(&o.refspec, "refspec", "", "the next boot's deployment must follow origin refspec `R`")
	fs.StringVar(&o.image, "image", "", "the next boot's deployment must follow container image `REF[@DIGEST]` (the origin's container-image-reference or the image in it; a sha256 digest must be the booted image's)")
	fs.StringArrayVar(&o.packages, "package", nil, "package `P` must be layered and installed (repeatable)")
	fs.StringArrayVar(&o.absent, "absent-package", nil, "package `P` must not be layered or installed (repeatable)")
	fs.StringVar(&o.note, "note", "", "free text kept with the expectation (e.g. the outer driver's step)")
	fs.BoolVar(&o.show, "show", false, "print the pending expectation as JSON")
	fs.BoolVar(&o.clear, "clear", false, "remove the pending expectation")
	fs.StringVar(&o.resultsDir, "results-dir", store.DefaultDir, "directory of run records and expect.json")
}

func init() {
	register(&command{
		name:  "expect",
		short: "leave what the next boot must run (checksum, version, refspec or image; packages) for deployment.expected",
		usage: "expect (--checksum C | --version V | --refspec R | --image REF[@DIGEST]) [--package P]... [--absent-package P]... | --show | --clear",
		flags: expectOpts.register,
		run:   func(ctx context.Context, e *env, args []string) error { return runExpect(ctx, e, expectOpts, args) },
	})
}

func runExpect(ctx context.Context, e *env, o expectOptions, args []string) error {
	if len(args) > 0 {
		return usageErr("expect takes no arguments, got %q", args[0])
	}
	ex := record.Expectation{Checksum: o.checksum, Version: o.version, Refspec: o.refspec, Image: o.image,
		Packages: o.packages, AbsentPackages: o.absent, Note: o.note}
	setsSomething := ex.Checksum != "" || ex.Version != "" || ex.Refspec != "" || ex.Image != "" || len(ex.Packages)+len(ex.AbsentPackages) > 0 || ex.Note != ""
	if o.show && o.clear || (o.show || o.clear) && setsSomething {
		return usageErr("--show and --clear go alone")
	}
	cfg, err := config.Load("/")
	if err != nil {
		return usageErr("%v", err)
	}
	switch {
	case o.show:
		if err := checkDir(o.resultsDir); err != nil {
			return usageErr("--results-dir: %v", err)
		}
		cur, err := expect.Read(o.resultsDir)
		if err != nil {
			return err
		}
		if cur == nil {
			fmt.Fprintln(e.stdout, "no expectation pending")
			return nil
		}
		data, _ := json.MarshalIndent(cur, "", "  ")
		fmt.Fprintln(e.stdout, string(data))
		return nil
	case o.clear:
		if err := checkDir(o.resultsDir); err != nil {
			return usageErr("--results-dir: %v", err)
		}
		had, err := expect.Clear(ctx, o.resultsDir, cfg.Results.LockTimeout.D())
		if err != nil {
			return err
		}
		if had {
			fmt.Fprintln(e.stdout, "expectation cleared")
		} else {
			fmt.Fprintln(e.stdout, "no expectation pending")
		}
		return nil
	}
	if err := expect.Validate(&ex); err != nil {
		return usageErr("%v", err)
	}
	if err := expect.Write(ctx, o.resultsDir, ex, session.ReadBootID(), cfg.Results.LockTimeout.D()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "expectation written to %s/%s; the first run on another boot verifies it\n", o.resultsDir, store.ExpectFile)
	return nil
}
