#!/usr/bin/env bash
# gate-power.sh - measures the timed A/B gate (ci/gate-ab.sh): RUNS times
# each, interleaved, the unmodified build against itself (any REGRESSION is
# a false alarm) and a build whose ternary models are 10 % slower
# (-DTB_TEST_SLOWDOWN=10) against the unmodified one (a REGRESSION is a
# catch), with the seconds each run took. A benchmark, not a test: it takes
# about 2 x RUNS x 2 minutes, and its figures belong in a measurement record.
#
#   ci/gate-power.sh [BUILD_DIR] [RUNS]      (default build, 5)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-"$here/build"}
runs=${2:-5}
slow="$build-slow10"
cmake -S "$here" -B "$slow" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTB_BUILD_TESTS=OFF \
  -DTB_TEST_SLOWDOWN=10 > /dev/null 2>&1
cmake --build "$slow" --target ternbench > /dev/null
alarms=0 caught=0
for i in $(seq "$runs"); do
  for kind in same slow10; do
    new="$build/ternbench"
    [ "$kind" = slow10 ] && new="$slow/ternbench"
    out="$build/gate-power/$kind-$i"
    t0=$(date +%s)
    set +e
    "$here/ci/gate-ab.sh" "$new" "$build/ternbench" "$out" > /dev/null
    rc=$?
    set -e
    secs=$(( $(date +%s) - t0 ))
    changes=$(grep -o '| [-+][0-9.]*% | \[[^]]*\]' "$out/ab.gate.txt" | tr -d '|' | paste -sd ';')
    [ "$rc" = 2 ] && { echo "gate-power: run $kind-$i failed: see $out" >&2; exit 2; }
    if [ "$kind" = same ]; then alarms=$((alarms + (rc == 1))); else caught=$((caught + (rc == 1))); fi
    printf '%-8s run %d: %3d s, exit %d, tg32 and pp128 changes:%s\n' "$kind" "$i" "$secs" "$rc" "$changes"
  done
done
echo "gate-power: the same build: $alarms false alarm(s) in $runs runs; 10 % slower: caught $caught of $runs"
