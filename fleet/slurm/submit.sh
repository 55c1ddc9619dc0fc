#!/usr/bin/env bash
# submit.sh - ternbench over a Slurm cluster's node types: one array job per
# node type (a partition, with as many tasks as nodes to measure), each task
# measuring the node it lands on (ternbench-task.sbatch -> fleet/run-host.sh),
# then one report across them all as a job that waits for every task
# (--dependency=afterany: a failed node does not stop the report).
#
#   fleet/slurm/submit.sh [--test-only] RESULTS PARTITION[:NODES] ...
#
# Environment: TB_REPRODUCE_ARGS (reproduce's options), TB_BUILD (a shared
# build; default: a build per host under the source tree), SBATCH_* as sbatch
# reads them. The source tree must be on a file system every node sees.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
test_only=()
if [ "${1:-}" = --test-only ]; then
  test_only=(--test-only)
  shift
fi
[ $# -ge 2 ] || { echo "usage: $0 [--test-only] RESULTS PARTITION[:NODES] ..." >&2; exit 2; }
results=$(realpath -m "$1")
shift
mkdir -p "$results"
export TB_SRC=$here TB_RESULTS=$results
ids=()
for spec in "$@"; do
  part=${spec%%:*}
  nodes=${spec#*:}
  [ "$nodes" = "$spec" ] && nodes=1
  out=$(sbatch "${test_only[@]}" --parsable --partition="$part" --array="0-$((nodes - 1))" \
        --chdir="$results" --export=ALL "$here/fleet/slurm/ternbench-task.sbatch" 2>&1)
  echo "$part: $out"
  [ ${#test_only[@]} -eq 0 ] && ids+=("${out%%;*}")
done
report="$here/build/ternbench report \$(ls $results/*/results.json) -o $results/report"
if [ ${#test_only[@]} -eq 0 ]; then
  dep=$(IFS=:; echo "${ids[*]}")
  sbatch --parsable --dependency="afterany:$dep" --job-name=ternbench-report --chdir="$results" \
    --wrap="$report"
else
  sbatch --test-only --job-name=ternbench-report --chdir="$results" --wrap="$report" 2>&1
fi
