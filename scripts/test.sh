#!/usr/bin/env bash
# Runs the whole test suite on a Debian 12 machine as root. It installs the
# Debian packages the tests need when they are missing, starts the daemons
# the integration tests talk to (on loopback and private sockets only),
# runs vet, staticcheck, the unit and integration tests, the bounded fuzz
# runs and the end-to-end suites, and stops the daemons again.
#
# Each area adds what it needs in scripts/setup.d/NN-name.sh: it appends to
# PACKAGES and may define setup_NAME (start a daemon, export variables for
# the tests) which is called in file order; cleanups go through on_exit.
#
# Environment:
#   ATOMIC_SELFTEST_REQUIRE  components that must not be skipped (default all)
#   SKIP_E2E=1               leave out the end-to-end VM suite
#   FUZZTIME                 time for each fuzz target (default 10s)
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
export FUZZTIME=${FUZZTIME:-10s}
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
log "go vet"
phase "go vet" go vet ./...
log "staticcheck"
phase "staticcheck" go tool staticcheck ./...
log "building"
phase "build" env CGO_ENABLED=0 go build ./...

# The RPM suite (build, lint, install of real RPMs) is timed apart from
# the other packages' tests.
log "go test (all packages but ./rpm)"
phase "go test" go test -count=1 -timeout 45m $(go list ./... | grep -v '/rpm$')
log "go test ./rpm (RPM build, lint, install)"
phase "go test ./rpm (RPM)" go test -count=1 -timeout 20m ./rpm

fuzz_all() {
  local pkg target out
  while read -r pkg target; do
    [ -n "$target" ] || continue
    # Go's fuzzing engine can stop with a bare "context deadline exceeded"
    # when -fuzztime ends while it is minimising a new input (no failing
    # input is written then); such a target runs once more. A real
    # failure names its input under testdata/fuzz and fails at once.
    if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1); then
      if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input' <<<"$out"; then
        echo "fuzz $pkg $target: the engine stopped at its deadline; running it once more"
        go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" >/dev/null
      else
        printf '%s\n' "$out" >&2
        return 1
      fi
    fi
    echo "fuzz $pkg $target: ok"
  done < <(grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
    d=$(dirname "$f")
    grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r t; do echo "$d $t"; done
  done)
}
log "fuzzing (each target $FUZZTIME)"
phase "fuzz" fuzz_all

for s in scripts/e2e.d/*.sh; do
  [ -e "$s" ] || continue
  if [ "${SKIP_E2E:-0}" = 1 ]; then log "SKIP_E2E=1: leaving out $s"; continue; fi
  log "end to end: $s"
  phase "end to end: $(basename "$s") (whole)" bash "$s"
done
log "all tests passed"
