#!/usr/bin/env bash
# Runs the whole test suite on a Debian 12 machine as root. It installs the
# Debian packages the tests need when they are missing, starts the daemons
# the integration tests talk to (on loopback and private sockets only),
# runs the build, vet, staticcheck, the unit and integration tests, the
# fuzz targets within one budget and the end-to-end suites, and stops the
# daemons again.
#
# The RPM is built once (phase "rpm build") and handed to the RPM tests and
# the VM suite through ATOMIC_SELFTEST_RPM_DIR. What waits on the network
# or the disk more than on the CPU runs beside the Go phases in the
# background: the testbed's Debian root file system (mmdebstrap) from the
# start, the testbed image (with that RPM) once the RPM is there. Its
# phase lines say "(background)"; "wait for ..." is the time the script
# then waited for it.
#
# Each area adds what it needs in scripts/setup.d/NN-name.sh: it appends to
# PACKAGES and may define setup_NAME (start a daemon, export variables for
# the tests) which is called in file order; cleanups go through on_exit.
#
# Environment:
#   ATOMIC_SELFTEST_REQUIRE  components that must not be skipped (default all)
#   SKIP_E2E=1               leave out the end-to-end VM suite
#   FUZZ_BUDGET              engine time of the whole fuzzing phase (default
#                            100s; scripts/fuzz.sh --budget), FUZZ_JOBS targets
#                            at a time (default 2)
#   FUZZTIME                 when set, each fuzz target's time instead
#                            (scripts/fuzz.sh --each)
#
# At the end (and on failure) it prints how long each phase took, so a CI
# log shows where the time goes.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

# The Go the project needs is the go directive of go.mod. A missing or older
# go is refused here with one sentence, before anything is installed: an
# older go would otherwise try to download a newer toolchain, which fails
# without network access.
need_go=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
go_too_old() {
  echo "scripts/test.sh: atomic-selftest needs Go $need_go or newer on PATH (the go directive in go.mod); $1" >&2
  exit 1
}
command -v go >/dev/null || go_too_old "no go command was found"
have_go=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | sed 's/^go//')
[ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" = "$need_go" ] ||
  go_too_old "found go ${have_go:-of unknown version}"
export GOTOOLCHAIN=local

export ATOMIC_SELFTEST_REQUIRE=${ATOMIC_SELFTEST_REQUIRE:-all}
# One cgo setting for every phase: the binaries the project ships and the
# tests build are CGO_ENABLED=0, and with the same setting the build, vet,
# staticcheck and the tests reuse one compile of the standard library and
# the dependencies instead of compiling the tree twice.
export CGO_ENABLED=0
state=$(mktemp -d /tmp/atomic-selftest-test.XXXXXX)
export ATOMIC_SELFTEST_TEST_STATE=$state
# Phases append "seconds<TAB>name" here; scripts/e2e.d adds its own steps.
export ATOMIC_SELFTEST_PHASES=$state/phases
: >"$ATOMIC_SELFTEST_PHASES"
t_start=$(date +%s)

exit_hooks=()
on_exit() { exit_hooks+=("$*"); }
run_exit_hooks() {
  local rc=$? i
  for ((i=${#exit_hooks[@]}-1; i>=0; i--)); do eval "${exit_hooks[$i]}" || true; done
  stop_background
  print_phases "$rc"
  rm -rf "$state"
}
# phase NAME CMD...: runs CMD and records how long it took under NAME. CMD
# is not run in a condition, so `set -e` still stops the script inside it;
# the exit trap then reports the phase that was running.
cur_phase=""
phase() {
  cur_phase=$1
  cur_start=$(date +%s)
  shift
  "$@"
  printf '%s\t%s\n' "$(($(date +%s) - cur_start))" "$cur_phase" >>"$ATOMIC_SELFTEST_PHASES"
  cur_phase=""
}
print_phases() {
  if [ -n "$cur_phase" ]; then
    printf '%s\t%s\n' "$(($(date +%s) - cur_start))" "$cur_phase (stopped here)" >>"$ATOMIC_SELFTEST_PHASES"
  fi
  [ -s "$ATOMIC_SELFTEST_PHASES" ] || return 0
  echo "== phases (seconds)"
  awk -F'\t' '{ printf "%-44s %6d\n", $2, $1 }' "$ATOMIC_SELFTEST_PHASES"
  printf '%-44s %6d  (%s)\n' "total" "$(($(date +%s) - t_start))" "$([ "$1" = 0 ] && echo passed || echo "failed, exit $1")"
}
trap run_exit_hooks EXIT

log() { printf '==> %s\n' "$*" >&2; }

# background NAME CMD...: runs CMD beside the next phases, its output in
# $state/NAME.log; it records its own time as "NAME (background)".
# await NAME waits for it (phase "wait for NAME") and fails with its log
# when it failed.
declare -A bg_pid=()
background() {
  local name=$1; shift
  # Job control on for this one job: it gets a process group of its own,
  # which stop_background can end with everything it started.
  set -m
  (
    s=$(date +%s)
    rc=0
    "$@" >"$state/$name.log" 2>&1 || rc=$?
    printf '%s\t%s\n' "$(($(date +%s) - s))" "$name (background$([ $rc = 0 ] || echo ", failed, exit $rc"))" >>"$ATOMIC_SELFTEST_PHASES"
    exit $rc
  ) &
  bg_pid[$name]=$!
  set +m
  log "started in the background: $name (log $state/$name.log)"
}
await_bg() {
  local name=$1 rc=0
  wait "${bg_pid[$name]}" || rc=$?
  unset "bg_pid[$name]"
  if [ $rc != 0 ]; then
    tail -n 40 "$state/$name.log" >&2
    echo "$name failed (exit $rc); its log is above" >&2
    return 1
  fi
}
await() { phase "wait for $1" await_bg "$1"; }
# On the way out (a failed phase), background jobs are stopped, not left
# running: their process groups, since build.sh runs children of its own.
stop_background() {
  local name
  for name in "${!bg_pid[@]}"; do
    kill -- "-${bg_pid[$name]}" 2>/dev/null || true
    wait "${bg_pid[$name]}" 2>/dev/null || true
  done
}

PACKAGES=()
SETUPS=()
for f in scripts/setup.d/*.sh; do
  [ -e "$f" ] || continue
  # shellcheck source=/dev/null
  source "$f"
done

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
install_packages() {
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
if [ ${#missing[@]} -gt 0 ]; then
  phase "package install" install_packages
fi

for s in "${SETUPS[@]}"; do
  log "setting up $s"
  phase "daemon: $s" "setup_$s"
done

e2e=1
[ "${SKIP_E2E:-0}" != 1 ] || e2e=0
# The testbed's Debian root file system: apt downloads and mmdebstrap,
# cached in /var/cache/atomic-selftest-testbed; it needs nothing the Go
# phases make, so it starts now.
if [ "$e2e" = 1 ] && [ -x outer/testbed/build.sh ]; then
  background "testbed base" outer/testbed/build.sh --base-only
fi

# Every Go tool comes from go.mod's tool directives, so the module download
# is its own phase (cold caches make it minutes).
log "go mod download"
phase "go mod download" go mod download
check_gofmt() {
  local bad
  bad=$(gofmt -l $(git ls-files '*.go'))
  [ -z "$bad" ] || { echo "gofmt would change: $bad" >&2; return 1; }
}
log "gofmt"
phase "gofmt" check_gofmt
# The build first: vet and staticcheck then read the export data of the
# packages it compiled from the build cache instead of compiling again.
log "building"
phase "build" go build ./...
log "go vet"
phase "go vet" go vet ./...
log "staticcheck"
phase "staticcheck" go tool staticcheck ./...

# The RPMs, built and linted once: the RPM tests check these files, and the
# VM suite installs the main package into its image.
if command -v rpmbuild >/dev/null; then
  export ATOMIC_SELFTEST_RPM_DIR=$state/rpm
  log "rpm/build.sh (SRPM, offline rebuild, rpmlint)"
  phase "rpm build" rpm/build.sh --outdir "$ATOMIC_SELFTEST_RPM_DIR" >/dev/null
  # The testbed image with that RPM (ostree commits, the disk image), beside
  # the tests; 90-vm.sh then finds it in the cache.
  if [ "$e2e" = 1 ] && [ -f scripts/e2e.d/90-vm.sh ]; then
    background "testbed image" bash scripts/e2e.d/90-vm.sh --image-only
  fi
fi

# The RPM suite (lint, install of the RPMs built above) is timed apart
# from the other packages' tests.
log "go test (all packages but ./rpm)"
phase "go test" go test -count=1 -timeout 45m $(go list ./... | grep -v '/rpm$')
log "go test ./rpm (the RPMs: contents, install, config)"
phase "go test ./rpm (RPM)" go test -count=1 -timeout 20m ./rpm

if [ -n "${FUZZTIME:-}" ]; then
  log "fuzzing (each target $FUZZTIME)"
  phase "fuzz" scripts/fuzz.sh --each "$FUZZTIME" -j "${FUZZ_JOBS:-2}"
else
  log "fuzzing (budget ${FUZZ_BUDGET:-100s}, ${FUZZ_JOBS:-2} targets at a time)"
  phase "fuzz" scripts/fuzz.sh --budget "${FUZZ_BUDGET:-100s}" -j "${FUZZ_JOBS:-2}"
fi

for name in "testbed base" "testbed image"; do
  [ -z "${bg_pid[$name]:-}" ] || await "$name"
done
for s in scripts/e2e.d/*.sh; do
  [ -e "$s" ] || continue
  if [ "$e2e" = 0 ]; then log "SKIP_E2E=1: leaving out $s"; continue; fi
  log "end to end: $s"
  phase "end to end: $(basename "$s") (whole)" bash "$s"
done
log "all tests passed"
