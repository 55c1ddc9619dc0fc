#!/usr/bin/env bash
# gate-selftest.sh - proves the gates' power: builds ternbench twice more
# with ternary models made slower on purpose (-DTB_TEST_SLOWDOWN=5 and 10:
# that share of their tokens computed twice, a test-only option compiled out
# of every other build), and checks that gate 1 of ci/gate.sh (counted)
# fails both and passed the unmodified build (whose count.json ci/gate.sh
# left in BUILD_DIR), and that the A/B gate (gate 3, timed) fails the 10 %
# slower build run against the unmodified one. ci/gate-power.sh measures the
# A/B gate's false alarms and catches over many runs.
#
#   ci/gate-selftest.sh [BUILD_DIR]        (default build; run ci/gate.sh first)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-"$here/build"}

gate() { # gate DOC: the counted gate's exit status
  set +e
  "$build/ternbench" gate --baseline "$here/ci/count-baseline.json" "$1" --ratios-only \
    --max-counted-regression 1% > "$1.gate.txt"
  local rc=$?
  set -e
  echo "$rc"
}

rc=$(gate "$build/count.json")
[ "$rc" = 0 ] || { echo "gate-selftest: the unmodified build did not pass (exit $rc)" >&2; exit 1; }
echo "gate-selftest: the unmodified build passes"
for pct in 5 10; do
  slow="$build-slow$pct"
  cmake -S "$here" -B "$slow" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTB_BUILD_TESTS=OFF \
    -DTB_TEST_SLOWDOWN="$pct" > /dev/null 2>&1
  cmake --build "$slow" --target ternbench > /dev/null
  "$slow/ternbench" bench -m dummy:125M:i2_s -n 20 -p 20 -t 1 -r 1 --max-lost 100% \
    --count instructions --json "$slow/count.json" > /dev/null 2>&1
  rc=$(gate "$slow/count.json")
  if [ "$rc" != 1 ]; then
    echo "gate-selftest: a ternary forward pass $pct % slower was not caught (exit $rc):" >&2
    cat "$slow/count.json.gate.txt" >&2
    exit 1
  fi
  echo "gate-selftest: $pct % slower caught:"
  grep -E "REGRESSION" "$slow/count.json.gate.txt" | sed 's/^/  /'
done

echo "gate-selftest: the A/B gate, the 10 % slower build against the unmodified one"
set +e
"$here/ci/gate-ab.sh" "$build-slow10/ternbench" "$build/ternbench" "$build-slow10/ab" 5% > /dev/null
rc=$?
set -e
if [ "$rc" = 0 ] && grep -q "inconclusive: tainted" "$build-slow10/ab/ab.gate.txt"; then
  echo "gate-selftest: the A/B gate's power not checked: the machine disturbed both runs (tainted)"
  exit 0
fi
if [ "$rc" != 1 ]; then
  echo "gate-selftest: the A/B gate did not catch the 10 % slower build (exit $rc):" >&2
  cat "$build-slow10/ab/ab.gate.txt" >&2
  exit 1
fi
echo "gate-selftest: 10 % slower caught by the A/B gate:"
grep -E "REGRESSION" "$build-slow10/ab/ab.gate.txt" | sed 's/^/  /'
