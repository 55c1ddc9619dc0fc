#!/usr/bin/env bash
# gate.sh - the performance gate CI runs: a small interleaved bench of the 125M
# dummy (i2_s against f16; decode and a batched prompt), gated against
# ci/baseline.json on the speedups (same-run ratios, which survive a change of
# machine better than tokens/s).
#
# The threshold is wide on purpose: the development VMs' memory bandwidth
# drifts ~1.6x within minutes, which moved these ratios by up to 21 % between
# runs of the same build (measured: decode -11..-21 %, batched prompt 0..-12 %
# against a baseline taken earlier the same day; on 2026-11-26 eight runs
# within an hour gave decode 2.64-3.62x), so the baseline is a middle run, not
# a fast one; 35 % catches real regressions without failing on the weather.
# On a quiet, dedicated machine gate tighter.
#
#   ci/gate.sh [BUILD_DIR]        (default build)
# Regenerate the baseline (on the reference machine class):
#   build/ternbench bench -m dummy:125M:i2_s,dummy:125M:f16 -n 32 -p 128 -r 5 -t 2 --json ci/baseline.json
# Two threads always, as in the baseline: the default (the CPUs this process
# may use) differs between runners, and runs of other thread counts share no
# configuration with the baseline (the gate then fails, saying so).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-"$here/build"}
"$build/ternbench" bench -m dummy:125M:i2_s,dummy:125M:f16 -n 32 -p 128 -r 5 -t 2 --json "$build/gate.json"
"$build/ternbench" gate --baseline "$here/ci/baseline.json" "$build/gate.json" \
  --max-regression 35% --ratios-only
