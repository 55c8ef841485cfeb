#!/usr/bin/env bash
# Runs the Go fuzz targets of this module (every `func Fuzz…` in a
# *_test.go), several at a time. scripts/test.sh runs them all within one
# budget for the whole phase; run by hand, it fuzzes one target (or a few)
# for as long as you like.
#
# Usage: scripts/fuzz.sh [--budget DURATION | --each DURATION] [-j N] [REGEX]
#   --budget D  engine time for the whole run (default 100s): each target
#               gets D × N / number-of-targets, at least 3s. The time the
#               go command spends compiling each package's instrumented test
#               binary comes on top (cached after the first run).
#   --each D    engine time for every target instead (e.g. 30m for a long
#               run of one target)
#   -j N        targets at a time (default 2; each runs one fuzzing worker,
#               so N is the cores it uses)
#   REGEX       only the targets whose name matches (grep -E), e.g.
#               scripts/fuzz.sh --each 30m '^FuzzParseLvs$'
#
# Go's fuzzing engine can stop with a bare "context deadline exceeded" when
# -fuzztime ends while it is minimising a new input (no failing input is
# written then); such a target runs once more. A real failure names its
# input under testdata/fuzz and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

budget=100s
each=""
jobs=2
filter=""
while [ $# -gt 0 ]; do
  case $1 in
    --budget) budget=${2:?--budget needs a duration}; shift 2 ;;
    --each) each=${2:?--each needs a duration}; shift 2 ;;
    -j) jobs=${2:?-j needs a number}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "scripts/fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) filter=$1; shift ;;
  esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "scripts/fuzz.sh: -j $jobs: want a positive number" >&2; exit 2; }

# seconds DURATION: Go-style 90s, 10m, 1h (one unit) in seconds.
seconds() {
  case $1 in
    *h) echo $(( ${1%h} * 3600 )) ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "scripts/fuzz.sh: duration $1: want e.g. 90s, 10m or 1h" >&2; return 2 ;;
  esac
}

# "DIR TARGET" lines, one per fuzz target, in file order.
targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  d=$(dirname "$f")
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r t; do echo "$d $t"; done
done)
if [ -n "$filter" ]; then
  targets=$(awk -v re="$filter" '$2 ~ re' <<<"$targets")
fi
n=$(grep -c . <<<"$targets" || true)
[ "$n" -gt 0 ] || { echo "scripts/fuzz.sh: no fuzz target matches ${filter:-anything}" >&2; exit 1; }

if [ -n "$each" ]; then
  per=$(seconds "$each")
else
  per=$(( $(seconds "$budget") * jobs / n ))
  [ "$per" -ge 3 ] || per=3
fi
echo "fuzzing $n targets, ${per}s each, $jobs at a time" >&2

# fuzz_one DIR TARGET SECONDS: one target with one fuzzing worker.
fuzz_one() {
  local pkg=$1 target=$2 t=$3 out start
  start=$(date +%s)
  run() { go test -run '^$' -fuzz "^${target}\$" -fuzztime "${t}s" -parallel 1 "$pkg" 2>&1; }
  if ! out=$(run); then
    if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input' <<<"$out"; then
      echo "fuzz $pkg $target: the engine stopped at its deadline; running it once more"
      out=$(run) || { printf 'fuzz %s %s: FAIL\n%s\n' "$pkg" "$target" "$out" >&2; return 1; }
    else
      printf 'fuzz %s %s: FAIL\n%s\n' "$pkg" "$target" "$out" >&2
      return 1
    fi
  fi
  echo "fuzz $pkg $target: ok ($(( $(date +%s) - start ))s)"
}
export -f fuzz_one

# xargs runs $jobs at a time and exits non-zero when any target failed,
# after the others have finished.
awk -v t="$per" '{ print $1, $2, t }' <<<"$targets" |
  xargs -P "$jobs" -L 1 bash -c 'fuzz_one "$@"' fuzz_one
