#!/usr/bin/env bash
# run-host.sh - the steps every machine of a fleet runs, whether Ansible
# (site.yml) or a Slurm array task (slurm/) drives it:
#   1. install what is missing and build (scripts/setup.sh), unless the build
#      is there and TB_SKIP_BUILD=1;
#   2. describe the machine: OUT/info.json (ternbench info --json);
#   3. measure: OUT/results.json and the report (ternbench reproduce).
#
#   fleet/run-host.sh SRC BUILD OUT [reproduce options...]
#
# Environment: TB_LABEL names the machine in the document (reports across
# machines tell them apart by it); TERNBENCH_ISA forces the kernels (as on
# any run). Exits with reproduce's status.
set -euo pipefail
src=$1 build=$2 out=$3
shift 3
if [ "${TB_SKIP_BUILD:-0}" != 1 ] || [ ! -x "$build/ternbench" ]; then
  "$src/scripts/setup.sh" "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
fi
mkdir -p "$out"
"$build/ternbench" info --json > "$out/info.json"
label=()
[ -n "${TB_LABEL:-}" ] && label=(--label "$TB_LABEL")
exec "$build/ternbench" reproduce "${label[@]}" --out "$out" "$@"
