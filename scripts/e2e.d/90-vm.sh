#!/usr/bin/env bash
# End to end on a real OSTree VM (issue 8): build (or reuse) the Debian 12
# OSTree test image, boot it in QEMU (TCG unless a probe shows KVM works)
# and run the outer driver's ostree cycle against it: baseline, upgrade,
# rollback, deploy the oldest; every boot's self-test must pass, and before
# each reboot the deployment command's own run (atomic-selftest-deployment.
# path, trigger deployment-change) must have left a record naming what is
# pending; the time from the command's end to it is printed. Then the
# deliberately broken variants must fail at the right step: an expectation
# pointing at the wrong checksum (outer/testbed/broken-expectation.toml, run
# on the same VM after the cycle) at its rollback step, an image with
# docker.service masked at the baseline.
# Prints the criteria table and the time of every phase.
#
# Environment:
#   ATOMIC_SELFTEST_TESTBED_CACHE  image cache (default /var/cache/atomic-selftest-testbed)
#   ATOMIC_SELFTEST_ARTIFACTS      artifacts directory (default ./artifacts/e2e-vm)
#   ATOMIC_SELFTEST_QEMU_ACCEL     tcg (default), kvm or auto
#   E2E_VM_BROKEN=0                leave out the broken variant
#   E2E_VM_RPM=0                   install the binary and units instead of the RPM
#                                  (default: the RPM from rpm/build.sh, when rpmbuild exists)
#   E2E_VM_BINARY=FILE             install this atomic-selftest binary (and units/) instead
set -euo pipefail
cd "$(dirname "$0")/../.."
art=${ATOMIC_SELFTEST_ARTIFACTS:-$PWD/artifacts/e2e-vm}
mkdir -p "$art"
export ATOMIC_SELFTEST_ARTIFACTS=$art
t0=$(date +%s)
times=()
# phase NAME SECONDS: one line of this suite's timing table, also appended
# to scripts/test.sh's phase list when it runs this suite.
phase() {
  times+=("$(printf '%-34s %5ss' "$1" "$2")")
  [ "$1" = total ] || [ -z "${ATOMIC_SELFTEST_PHASES:-}" ] ||
    printf '%s\t%s\n' "$2" "  e2e: $1" >>"$ATOMIC_SELFTEST_PHASES"
}

# The self-test goes into the image as the RPM rpm/build.sh makes (no lint:
# the packaging suite lints it), installed with rpm -i --root.
install=()
if [ -n "${E2E_VM_BINARY:-}" ]; then
  install=(--binary "$E2E_VM_BINARY")
elif [ "${E2E_VM_RPM:-1}" = 1 ] && command -v rpmbuild >/dev/null && [ -x rpm/build.sh ]; then
  s=$(date +%s)
  rpmdir=$(mktemp -d /tmp/atomic-selftest-e2e-rpm.XXXXXX)
  trap 'rm -rf "$rpmdir"' EXIT
  rpmfile=$(rpm/build.sh --no-lint --outdir "$rpmdir" | grep -E '/atomic-selftest-[0-9][^/]*\.x86_64\.rpm$' | head -1)
  [ -n "$rpmfile" ] || { echo "90-vm.sh: rpm/build.sh made no atomic-selftest RPM" >&2; exit 1; }
  install=(--rpm "$rpmfile")
  phase "rpm build" $(( $(date +%s) - s ))
fi

s=$(date +%s)
good=$(./outer/testbed/build.sh --variant good "${install[@]}")
phase "image build (good)" $(( $(date +%s) - s ))

broken=""
if [ "${E2E_VM_BROKEN:-1}" = 1 ]; then
  s=$(date +%s)
  broken=$(./outer/testbed/build.sh --variant docker-masked "${install[@]}")
  phase "image build (docker-masked)" $(( $(date +%s) - s ))
fi

# The go tests time each boot and step themselves and print them; they
# fail rather than skip when their variable is set.
s=$(date +%s)
rc=0
ATOMIC_SELFTEST_TESTBED=$good ATOMIC_SELFTEST_TESTBED_CYCLE=1 \
  go test -count=1 -timeout 60m -v -run '^TestCycleTestbed$' ./outer/qemu/ || rc=1
phase "cycle + wrong-expectation step" $(( $(date +%s) - s ))

if [ -n "$broken" ]; then
  s=$(date +%s)
  ATOMIC_SELFTEST_TESTBED=$broken ATOMIC_SELFTEST_TESTBED_BROKEN=1 \
    go test -count=1 -timeout 60m -v -run '^TestCycleBrokenTestbed$' ./outer/qemu/ || rc=1
  phase "cycle (broken variant must fail)" $(( $(date +%s) - s ))
fi

phase "total" $(( $(date +%s) - t0 ))
echo "== e2e VM phases"
printf '%s\n' "${times[@]}"
echo "artifacts: $art"
exit $rc
