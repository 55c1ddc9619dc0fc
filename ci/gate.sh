#!/usr/bin/env bash
# gate.sh - the performance gate CI runs: a small interleaved bench of the 125M
# dummy (i2_s against f16), gated against ci/baseline.json on the speedup (a
# same-run ratio, which survives a change of machine better than tokens/s).
#
# The threshold is wide on purpose: the development VMs' memory bandwidth
# drifts ~1.6x within minutes, which moves a ternary/f16 ratio by up to ~15 %
# between runs; 30 % catches real regressions without failing on the weather.
# On a quiet, dedicated machine use a tighter --max-regression.
#
#   ci/gate.sh [BUILD_DIR]        (default build)
# Regenerate the baseline (on the reference machine class):
#   build/ternbench bench -m dummy:125M:i2_s,dummy:125M:f16 -n 16 -r 5 --json ci/baseline.json
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-"$here/build"}
"$build/ternbench" bench -m dummy:125M:i2_s,dummy:125M:f16 -n 16 -r 5 --json "$build/gate.json"
"$build/ternbench" gate --baseline "$here/ci/baseline.json" "$build/gate.json" \
  --max-regression 30% --ratios-only
