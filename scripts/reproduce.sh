#!/usr/bin/env bash
# reproduce.sh - the main job from a fresh clone: set-up, build, describe the
# machine, then `ternbench reproduce`: the paper's comparison on built-in
# dummy models (125M, 350M, 700M and the 2B4T shape; i2_s, tl2, tq2_0 against
# f16, q8_0, q4_0; decode, batch-1 prompt, batched prompt), interleaved
# repetitions, writing out/results.json, out/report.md, out/report.html and
# the plots. About five minutes on 2 cores; `scripts/reproduce.sh --quick`
# takes about one. Extra arguments go to `ternbench reproduce`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup.sh" "$here/build"
"$here/build/ternbench" info
echo
exec "$here/build/ternbench" reproduce --out "$here/out" "$@"
