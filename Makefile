# Build targets for atomic-selftest. The test command is scripts/test.sh.
#
#   make build    the host binary and the outer driver, static
#   make sources  the spec's Source0/1/2 into _build/rpm/sources
#   make rpm      the SRPM and binary RPMs into _build/rpm (offline, linted);
#                 prints their paths
#   make srpm     an alias of rpm: the binary RPMs are rebuilt from the SRPM
#   make rpmlint  lint the RPMs in _build/rpm again
#   make clean    remove _build and the binaries

GO ?= go
RPMDIR ?= _build/rpm

.PHONY: build sources rpm srpm rpmlint clean

build:
	CGO_ENABLED=0 $(GO) build -o atomic-selftest ./cmd/atomic-selftest
	CGO_ENABLED=0 $(GO) build -o atomic-selftest-outer ./cmd/atomic-selftest-outer

sources:
	rpm/sources.sh $(RPMDIR)/sources

rpm srpm:
	rpm/build.sh --outdir $(RPMDIR)

rpmlint:
	rpmlint -c rpm/rpmlint.toml -r rpm/atomic-selftest.rpmlintrc $(RPMDIR)/*.rpm

clean:
	rm -rf _build atomic-selftest atomic-selftest-outer
