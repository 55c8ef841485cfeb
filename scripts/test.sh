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
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

export ATOMIC_SELFTEST_REQUIRE=${ATOMIC_SELFTEST_REQUIRE:-all}
export FUZZTIME=${FUZZTIME:-10s}
export PATH=/usr/local/go/bin:$HOME/go/bin:$PATH
state=$(mktemp -d /tmp/atomic-selftest-test.XXXXXX)
export ATOMIC_SELFTEST_TEST_STATE=$state

exit_hooks=()
on_exit() { exit_hooks+=("$*"); }
run_exit_hooks() {
  local i
  for ((i=${#exit_hooks[@]}-1; i>=0; i--)); do eval "${exit_hooks[$i]}" || true; done
  rm -rf "$state"
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
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for s in "${SETUPS[@]}"; do
  log "setting up $s"
  "setup_$s"
done

log "go vet"
go vet ./...
log "staticcheck"
if ! command -v staticcheck >/dev/null; then
  GOFLAGS=-mod=mod go install honnef.co/go/tools/cmd/staticcheck@2025.1.1
fi
staticcheck ./...
log "building"
CGO_ENABLED=0 go build ./...

log "go test"
go test -count=1 -timeout 45m ./...

log "fuzzing (each target $FUZZTIME)"
while read -r pkg target; do
  [ -n "$target" ] || continue
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" >/dev/null
  echo "fuzz $pkg $target: ok"
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  d=$(dirname "$f")
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r t; do echo "$d $t"; done
done)

for s in scripts/e2e.d/*.sh; do
  [ -e "$s" ] || continue
  if [ "${SKIP_E2E:-0}" = 1 ]; then log "SKIP_E2E=1: leaving out $s"; continue; fi
  log "end to end: $s"
  bash "$s"
done
log "all tests passed"
