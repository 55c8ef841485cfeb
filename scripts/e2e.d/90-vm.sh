#!/usr/bin/env bash
# End to end on a real OSTree VM (issue 8): build (or reuse) the Debian 12
# OSTree test image, boot it in QEMU (TCG unless a probe shows KVM works)
# and run the outer driver's ostree cycle against it: baseline, upgrade,
# rollback, deploy the oldest; every boot's self-test must pass. Then the
# deliberately broken variant (docker.service masked) must fail at the
# baseline. Prints the criteria table and the time of every phase.
#
# Environment:
#   ATOMIC_SELFTEST_TESTBED_CACHE  image cache (default /var/cache/atomic-selftest-testbed)
#   ATOMIC_SELFTEST_ARTIFACTS      artifacts directory (default ./artifacts/e2e-vm)
#   ATOMIC_SELFTEST_QEMU_ACCEL     tcg (default), kvm or auto
#   E2E_VM_BROKEN=0                leave out the broken variant
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
art=${ATOMIC_SELFTEST_ARTIFACTS:-$PWD/artifacts/e2e-vm}
mkdir -p "$art"
export ATOMIC_SELFTEST_ARTIFACTS=$art
t0=$(date +%s)
times=()
phase() { times+=("$(printf '%-34s %5ss' "$1" "$2")"); }

s=$(date +%s)
good=$(./outer/testbed/build.sh --variant good)
phase "image build (good)" $(( $(date +%s) - s ))

broken=""
if [ "${E2E_VM_BROKEN:-1}" = 1 ]; then
  s=$(date +%s)
  broken=$(./outer/testbed/build.sh --variant docker-masked)
  phase "image build (docker-masked)" $(( $(date +%s) - s ))
fi

# The go tests time each boot and step themselves and print them; they
# fail rather than skip when their variable is set.
s=$(date +%s)
rc=0
ATOMIC_SELFTEST_TESTBED=$good ATOMIC_SELFTEST_TESTBED_CYCLE=1 \
  go test -count=1 -timeout 60m -v -run '^TestCycleTestbed$' ./outer/qemu/ || rc=1
phase "cycle (good)" $(( $(date +%s) - s ))

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
