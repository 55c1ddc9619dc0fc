#!/usr/bin/env bash
# gate.sh - the performance gate CI runs, in three parts.
#
# 1. Counted (tight): the 125M i2_s model's instructions per token under
#    valgrind's callgrind (decode and a batched prompt, one thread), against
#    ci/count-baseline.json at 1 %. Counts do not move with the machine's
#    weather: the same build counts the same, run after run, so a 1 %
#    threshold raises no false alarm, and a ternary forward pass made 5 %
#    slower fails (ci/gate-selftest.sh proves both).
# 2. Timed (noise-aware): 125M i2_s over f16, decode and a batched prompt on
#    two threads, repetitions added until each speedup is known to +-3 %
#    (at most 120 s), gated against every document in ci/history/: each
#    speedup's threshold is what the spread of those runs needs (the 99.9 %
#    prediction bound for one more run), at least 5 %. On the development
#    VMs the same build's speedup drifts with the memory bandwidth's phase;
#    the history carries that drift, a single baseline did not (the old
#    single-baseline gate needed 35 %). It allows for drift between runs, so
#    it catches only large regressions (a 10 % slower build passes it).
# 3. A/B (tight and timed): this build against the build before it, both in
#    one bench run, interleaved round by round (ci/gate-ab.sh), at 5 %: the
#    drift falls on both builds alike. The base is TB_GATE_BASE (a ternbench
#    binary) or else built here from TB_GATE_BASE_REF (default HEAD~1: the
#    last commit's parent, or the last commit when the tree has changes);
#    skipped, saying why, when that commit is not in the checkout (a shallow
#    clone) or predates `ternbench llama-bench`.
#
#   ci/gate.sh [BUILD_DIR]        (default build)
#
# Regenerate (on the reference machine class, a quiet machine):
#   the count baseline:  BUILD/ternbench bench -m dummy:125M:i2_s -n 20 -p 20 -t 1 -r 1 \
#                          --max-lost 100% --count instructions --json ci/count-baseline.json
#   the history: run the timed bench below a few times, minutes apart, into
#                ci/history/NAME.json (the main branch's own gate.json files will do)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-"$here/build"}
tb="$build/ternbench"

echo "gate 1/3: instructions per token (callgrind)"
"$tb" bench -m dummy:125M:i2_s -n 20 -p 20 -t 1 -r 1 --max-lost 100% --count instructions \
  --json "$build/count.json" > "$build/count.txt"
"$tb" gate --baseline "$here/ci/count-baseline.json" "$build/count.json" --ratios-only \
  --max-counted-regression 1%

echo "gate 2/3: speedups against ci/history"
# Two threads always, as in the history: the default (the CPUs this process
# may use) differs between runners, and runs of other thread counts share no
# configuration with it (the gate then fails, saying so).
"$tb" bench -m dummy:125M:i2_s,dummy:125M:f16 -n 32 -p 128 -t 2 -r 6 --precision 3% --max-time 120 \
  --json "$build/gate.json"
"$tb" gate --history "$here/ci/history" "$build/gate.json" --ratios-only --max-regression 5%

echo "gate 3/3: this build against the build before it, interleaved (A/B)"
base=${TB_GATE_BASE:-}
if [ -z "$base" ]; then
  ref=${TB_GATE_BASE_REF:-}
  if [ -z "$ref" ]; then # the tree's changes, else the last commit's
    ref=HEAD~1
    [ -n "$(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null)" ] && ref=HEAD
  fi
  if commit=$(git -C "$here" rev-parse --verify -q "$ref^{commit}" 2>/dev/null); then
    src=$(mktemp -d) # outside the checkout, so that the base does not take its git state
    trap 'rm -rf "$src"' EXIT
    git -C "$here" archive "$commit" | tar -x -C "$src"
    rm -rf "$build-base" # its cache names the last source folder
    cmake -S "$src" -B "$build-base" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTB_BUILD_TESTS=OFF \
      > "$build/gate-base.log" 2>&1 && cmake --build "$build-base" --target ternbench >> "$build/gate-base.log" 2>&1 \
      || { echo "gate 3/3: the base ($ref, ${commit:0:7}) did not build: see $build/gate-base.log" >&2; exit 2; }
    base="$build-base/ternbench"
    echo "base: $ref (${commit:0:7}), built in $build-base"
  else
    echo "gate 3/3: skipped: $ref is not in this checkout (a shallow clone?); set TB_GATE_BASE to" \
         "another build's ternbench, or TB_GATE_BASE_REF to a commit"
    exit 0
  fi
fi
if ! "$base" llama-bench --help > /dev/null 2>&1; then
  echo "gate 3/3: skipped: $base has no \`ternbench llama-bench\` to run as a peer (a build older" \
       "than the A/B gate)"
  exit 0
fi
"$here/ci/gate-ab.sh" "$tb" "$base" "$build/ab" 5%
