#!/usr/bin/env bash
# Makes the spec's sources from a checkout, into OUTDIR:
#   atomic-selftest-VERSION.tar.gz         Source0: every file git knows of
#                                          (tracked, or untracked and not
#                                          ignored), as it is in the work tree,
#                                          under atomic-selftest-VERSION/
#   atomic-selftest-VERSION-vendor.tar.gz  Source1: `go mod vendor` of the
#                                          same tree, as vendor/ (unpacked
#                                          into the source directory), so the
#                                          build needs no network
#   VERSION                                Source2: the version the spec reads
#
# The archives are reproducible: names sorted, owner 0:0 without names,
# modes normalised, every mtime set to SOURCE_DATE_EPOCH (default: the time
# of the HEAD commit), gzip without a name or timestamp. The same tree and
# module versions give byte-identical archives.
#
# Usage: rpm/sources.sh OUTDIR
# Needs git, GNU tar, gzip and go; `go mod vendor` reads the module cache
# and downloads what is missing, so run this before cutting the network.
set -euo pipefail

die() { echo "rpm/sources.sh: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: rpm/sources.sh OUTDIR"
out=$1
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

name=atomic-selftest
version=$(tr -d '[:space:]' < VERSION)
# rpm's Version may not contain '-'; keep to what both rpm and Go accept.
[[ $version =~ ^[0-9]+(\.[0-9A-Za-z]+)*(~[0-9A-Za-z.]+)?$ ]] ||
  die "VERSION: $version is not a version rpm accepts (digits and letters separated by dots, optional ~prerelease)"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null) ||
    die "not a git checkout and SOURCE_DATE_EPOCH is unset"
fi
export SOURCE_DATE_EPOCH

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/atomic-selftest-sources.XXXXXX")
trap 'rm -rf "$work"' EXIT

# GNU tar options for a reproducible archive; the file list comes on stdin.
tarflags=(--sort=name --format=gnu --mtime="@$SOURCE_DATE_EPOCH"
  --owner=0 --group=0 --numeric-owner --mode=u+rw,go=rX --no-recursion)

# Source0: the files git knows of, deleted ones left out.
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -f "$f" ] && [ ! -L "$f" ] && printf '%s\0' "$f"; done |
  sort -z > "$work/files"
[ -s "$work/files" ] || die "no files: is $top a git checkout?"
tar "${tarflags[@]}" --null --transform "s,^,$name-$version/," -C "$top" -T "$work/files" -cf - |
  gzip -9n > "$out/$name-$version.tar.gz"

# Source1: the vendored modules. GOFLAGS is reset so a -mod=vendor set by
# the caller cannot stop `go mod vendor` from reading the module cache.
(
  export GOFLAGS= GOTOOLCHAIN=local GOWORK=off
  go mod vendor -o "$work/vendor"
) || die "go mod vendor failed"
(cd "$work" && find vendor -print0 | sort -z) > "$work/vendor-files"
tar "${tarflags[@]}" --null -C "$work" -T "$work/vendor-files" -cf - |
  gzip -9n > "$out/$name-$version-vendor.tar.gz"

cp VERSION "$out/VERSION"
echo "$out/$name-$version.tar.gz"
echo "$out/$name-$version-vendor.tar.gz"
