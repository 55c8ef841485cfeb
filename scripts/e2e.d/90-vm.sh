#!/usr/bin/env bash
# End to end on a real OSTree VM (issues 8, 12, 16, 18): build (or reuse)
# the Debian 12 OSTree test image, boot it in QEMU (TCG unless a probe shows
# KVM works) and, on that one VM: the built-in default profile must stop
# once at preflight (no rpm-ostree: use --profile ostree), then the outer
# driver's ostree cycle: baseline, an upgrade to a commit whose docker is
# masked that the host reboots once and then rolls back from by itself
# ([health] reboot_attempts = 1, three boots; the boot-complete.target gate
# is not reached on either failing boot, and is on the recovered one), a
# staged upgrade, a broken pending initramfs caught before any reboot, a
# release whose /etc/docker/daemon.json is not JSON caught before any reboot,
# every other boot's self-test must pass, and before each reboot the
# driver finds the host's deployment-change record naming what is pending
# and reports it with the time from the command's end. Then the
# deliberately broken step: an expectation pointing at the wrong checksum
# (outer/testbed/broken-expectation.toml) must fail at collect. Last, the
# boot deadline: 12.5's boot hangs before multi-user.target, and the host
# must judge it at its deadline and roll itself back (deadline-hang.toml). (The
# docker-masked image of earlier versions is gone: the bad commit's boot is
# the boot whose docker is masked and fails runtime.*.)
# Beside it, on a second VM: the newcomer's command itself,
# `atomic-selftest-outer run --qemu-image DISK` with no other flag, from an
# empty directory; the auto profile's ostree plan upgrades to the driver's
# own upgrade source and boots it, deploys the older commit, rolls back,
# and must pass (TestNoFlagRunTestbed).
# Prints the criteria tables and the time of every phase.
#
# Usage: 90-vm.sh [--image-only]
#   --image-only  build (or find) the test image and print its directory;
#                 scripts/test.sh runs this in the background while the Go
#                 tests run, and the suite later finds the image cached.
#
# Environment:
#   ATOMIC_SELFTEST_TESTBED_CACHE  image cache (default /var/cache/atomic-selftest-testbed)
#   ATOMIC_SELFTEST_ARTIFACTS      artifacts directory (default ./artifacts/e2e-vm)
#   ATOMIC_SELFTEST_QEMU_ACCEL     tcg (default), kvm or auto
#   E2E_VM_HEALTH=0                leave out the health-driven rollback step and
#                                  build the image without [health] (for a self-test
#                                  that does not know [health] yet)
#   E2E_VM_BROKEN=0                leave out the wrong-expectation step
#   E2E_VM_DEADLINE=0              leave out the boot-deadline step (12.5 hangs its boot)
#   E2E_VM_ONLY=deadline           on the cycle VM, run only the baseline and the deadline step
#   E2E_VM_RPM=0                   install the binary and units instead of the RPM
#                                  (default: the RPM from rpm/build.sh, when rpmbuild exists)
#   ATOMIC_SELFTEST_RPM_DIR        a finished rpm/build.sh --outdir to take the RPM from
#                                  instead of building it (scripts/test.sh sets it)
#   E2E_VM_SERIAL=1                run the two VMs one after the other, not side by side
#   E2E_VM_BINARY=FILE             install this atomic-selftest binary (and units/) instead
#   E2E_VM_IGNITION=1              also build the Ignition variant of the image
#                                  (build.sh --ignition) and boot it on a third VM,
#                                  after the others: Ignition provisions it through
#                                  the driver's fw_cfg config, ignition.provisioned
#                                  passes and catches its faults, an upgrade and its
#                                  boot (TestIgnitionTestbed); opt-in until it fits
#                                  the suite's time budget
set -euo pipefail
cd "$(dirname "$0")/../.."
image_only=0
case ${1:-} in
  --image-only) image_only=1 ;;
  "") ;;
  *) echo "90-vm.sh: unknown argument $1" >&2; exit 2 ;;
esac
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
elif [ "${E2E_VM_RPM:-1}" = 1 ] && [ -n "${ATOMIC_SELFTEST_RPM_DIR:-}" ]; then
  rpmfile=$(ls "$ATOMIC_SELFTEST_RPM_DIR"/atomic-selftest-[0-9]*.x86_64.rpm 2>/dev/null | head -1)
  [ -n "$rpmfile" ] || { echo "90-vm.sh: ATOMIC_SELFTEST_RPM_DIR=$ATOMIC_SELFTEST_RPM_DIR holds no atomic-selftest RPM" >&2; exit 1; }
  install=(--rpm "$rpmfile")
elif [ "${E2E_VM_RPM:-1}" = 1 ] && command -v rpmbuild >/dev/null && [ -x rpm/build.sh ]; then
  s=$(date +%s)
  rpmdir=$(mktemp -d /tmp/atomic-selftest-e2e-rpm.XXXXXX)
  trap 'rm -rf "$rpmdir"' EXIT
  rpmfile=$(rpm/build.sh --no-lint --outdir "$rpmdir" | grep -E '/atomic-selftest-[0-9][^/]*\.x86_64\.rpm$' | head -1)
  [ -n "$rpmfile" ] || { echo "90-vm.sh: rpm/build.sh made no atomic-selftest RPM" >&2; exit 1; }
  install=(--rpm "$rpmfile")
  phase "rpm build" $(( $(date +%s) - s ))
fi

health=${E2E_VM_HEALTH:-1}
export E2E_VM_HEALTH=$health
[ "$health" = 0 ] || install+=(--health)
s=$(date +%s)
good=$(./outer/testbed/build.sh "${install[@]}")
if [ "$image_only" = 1 ]; then
  echo "$good"
  exit 0
fi
phase "image build" $(( $(date +%s) - s ))

# The go tests time each boot and step themselves and print them; they
# fail rather than skip when their variable is set.
s=$(date +%s)
rc=0
par=2
[ "${E2E_VM_SERIAL:-0}" != 1 ] || par=1
ATOMIC_SELFTEST_TESTBED=$good ATOMIC_SELFTEST_TESTBED_CYCLE=1 \
  go test -count=1 -timeout 90m -v -parallel "$par" -run '^(TestCycleTestbed|TestNoFlagRunTestbed)$' ./outer/qemu/ || rc=1
phase "cycle VM + no-flag run VM" $(( $(date +%s) - s ))

if [ "${E2E_VM_IGNITION:-0}" = 1 ]; then
  s=$(date +%s)
  ign=$(./outer/testbed/build.sh "${install[@]}" --ignition)
  phase "Ignition image build" $(( $(date +%s) - s ))
  s=$(date +%s)
  ATOMIC_SELFTEST_TESTBED_IGNITION=$ign \
    go test -count=1 -timeout 30m -v -run '^TestIgnitionTestbed$' ./outer/qemu/ || rc=1
  phase "Ignition VM" $(( $(date +%s) - s ))
fi

phase "total" $(( $(date +%s) - t0 ))
echo "== e2e VM phases"
printf '%s\n' "${times[@]}"
echo "artifacts: $art"
exit $rc
