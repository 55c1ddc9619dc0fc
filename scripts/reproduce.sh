#!/usr/bin/env bash
# reproduce.sh - the main job from a fresh clone: set-up, build, describe the
# machine, then a small reproduction on built-in dummy models (the paper's
# 125M shape): ternary i2_s and tq2_0 against f16, q8_0 and q4_0, decoding 64
# tokens, 3 interleaved repetitions, the result document in out/results.json.
# (`ternbench reproduce` with reports and plots replaces this when it lands.)
# Extra arguments go to `ternbench bench`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup.sh" "$here/build"
mkdir -p "$here/out"
"$here/build/ternbench" info
echo
exec "$here/build/ternbench" bench \
  -m dummy:125M:i2_s,dummy:125M:tq2_0,dummy:125M:f16,dummy:125M:q8_0,dummy:125M:q4_0 \
  -n 64 -r 3 --json "$here/out/results.json" "$@"
