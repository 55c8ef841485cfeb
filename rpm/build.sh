#!/usr/bin/env bash
# Builds the source RPM and the binary RPMs of atomic-selftest on this
# (Debian) machine with rpmbuild, offline, and lints them with rpmlint.
#
#   1. rpm/sources.sh makes Source0 (the tree), Source1 (vendored modules)
#      and Source2 (VERSION) while the network is still there.
#   2. rpmbuild -bs makes the SRPM, and rpmbuild --rebuild builds the binary
#      RPMs from that SRPM alone in a fresh top directory, the way Koji and
#      mock do. Both run in a new network namespace (unshare --net, with
#      only the loopback up) and a clean environment, so any download
#      attempt fails the build.
#   3. rpmlint checks the RPMs with rpm/atomic-selftest.rpmlintrc, where
#      every filtered warning is explained; an error fails the build.
#
# Debian has neither systemd-rpm-macros nor go-srpm-macros: their macros
# come from rpm/macros.atomic-selftest, loaded for this build only. The
# BuildRequires name Fedora packages that Debian's empty rpm database
# cannot know, so the binary build runs with --nodeps.
#
# The outer driver's subpackage is built when cmd/atomic-selftest-outer has
# Go files, and left out (--without outer) otherwise.
#
# Usage: rpm/build.sh [--outdir DIR] [--no-lint]
# Output: DIR (default _build/rpm) holds the SRPM and the RPMs; their paths
# are printed on stdout, one a line, everything else goes to stderr.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/_build/rpm
lint=1
while [ $# -gt 0 ]; do
  case $1 in
    --outdir) out=${2:?--outdir needs a directory}; shift 2 ;;
    --outdir=*) out=${1#--outdir=}; shift ;;
    --no-lint) lint=0; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "rpm/build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { printf 'rpm/build.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
for c in rpmbuild rpm go unshare tar gzip; do
  command -v "$c" >/dev/null || die "$c is not installed (scripts/setup.d/50-rpm.sh lists the packages)"
done

name=atomic-selftest
version=$(tr -d '[:space:]' < "$top/VERSION")
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Only what this script made before: the output directory may be shared.
rm -rf "$out/srpm-top" "$out/rebuild-top" "$out"/*.rpm

log "making sources"
"$top/rpm/sources.sh" "$out/srpm-top/SOURCES" >&2

bcond=(--with outer)

# offline runs a command with no network but the loopback, in a clean
# environment: only what a buildroot has (PATH, HOME, locale) and the Go
# build cache, which holds nothing a build could download.
# GOEXPERIMENT=nodwarf5: Go 1.25 and later write DWARF 5, whose .debug_line
# directory entries Debian 12's debugedit 5.0 cannot rewrite ("Unsupported
# .debug_line directory 0 path DW_FORM_0x8"), which fails find-debuginfo.
# Fedora's newer debugedit reads DWARF 5, so the spec does not set it.
offline() {
  local ns=(unshare --net)
  [ "$(id -u)" = 0 ] || ns=(unshare --user --map-root-user --net)
  env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" \
    GOCACHE="$(go env GOCACHE)" GOEXPERIMENT=nodwarf5 \
    "${ns[@]}" -- sh -c '
      ip link set lo up 2>/dev/null || true
      if getent ahosts proxy.golang.org >/dev/null 2>&1 &&
         timeout 5 bash -c ": </dev/tcp/proxy.golang.org/443" 2>/dev/null; then
        echo "network still reachable inside unshare --net" >&2; exit 1
      fi
      exec "$@"' sh "$@"
}

# Macros for both builds: Debian's missing ones, and a flat output layout
# (the RPMs straight in $out, named NAME-VERSION-RELEASE.ARCH.rpm).
macros=(--load "$top/rpm/macros.atomic-selftest"
  --define "_srcrpmdir $out" --define "_rpmdir $out"
  --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm")

log "rpmbuild -bs (offline)"
offline rpmbuild "${macros[@]}" "${bcond[@]}" \
  --define "_topdir $out/srpm-top" --define "_sourcedir $out/srpm-top/SOURCES" \
  -bs "$top/$name.spec" >&2
srpms=("$out/$name-$version"-*.src.rpm)
[ ${#srpms[@]} = 1 ] && [ -f "${srpms[0]}" ] || die "expected one source RPM in $out, found: ${srpms[*]}"
srpm=${srpms[0]}

log "rpmbuild --rebuild $(basename "$srpm") (offline, from the SRPM alone)"
offline rpmbuild "${macros[@]}" "${bcond[@]}" --nodeps \
  --define "_topdir $out/rebuild-top" \
  --rebuild "$srpm" >&2

rpms=()
for f in "$out"/*.rpm; do
  [ "$f" = "$srpm" ] || rpms+=("$f")
done
[ ${#rpms[@]} -gt 0 ] || die "rpmbuild made no binary RPM"

main=
for f in "${rpms[@]}"; do
  [ "$(rpm -qp --qf '%{NAME}' "$f")" = "$name" ] && main=$f
done
[ -n "$main" ] || die "rpmbuild made no $name binary RPM"
size=$(rpm -qp --qf '[%{FILENAMES} %{FILESIZES}\n]' "$main" | awk '$1 == "/usr/bin/atomic-selftest" {print $2}')
[ -n "$size" ] || die "$main has no /usr/bin/atomic-selftest"
log "$(awk -v s="$size" -v f="$(basename "$main")" 'BEGIN {printf "/usr/bin/atomic-selftest in %s: %d bytes (%.1f MiB; limit 25 MB)", f, s, s / 1048576}')"
[ "$size" -lt 25000000 ] || die "/usr/bin/atomic-selftest is $size bytes, over the 25 MB limit"

if [ "$lint" = 1 ]; then
  command -v rpmlint >/dev/null || die "rpmlint is not installed"
  log "rpmlint"
  # rpmlint exits non-zero on errors (and on a badness over the threshold);
  # warnings are printed and each one left is explained in the rpmlintrc.
  rpmlint -c "$top/rpm/rpmlint.toml" -r "$top/rpm/$name.rpmlintrc" "$srpm" "${rpms[@]}" >&2 || die "rpmlint found errors"
fi

rm -rf "$out/srpm-top" "$out/rebuild-top"
printf '%s\n' "$srpm" "${rpms[@]}"
