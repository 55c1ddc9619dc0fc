#!/usr/bin/env bash
# reproduce.sh - the main job from a fresh clone: set-up, build, then
# `ternbench info` (the reproduction run replaces it once `ternbench
# reproduce` exists). Extra arguments go to ternbench.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup.sh" "$here/build"
exec "$here/build/ternbench" info "$@"
