#!/usr/bin/env bash
# update-golden.sh - regenerates the report's golden files (tests/data/golden/
# report.md and report.html) from the fixed document beside them, as
# tests/scripts/golden.sh renders it (without gnuplot, so nothing depends on
# its version). Review the diff before committing it.
#
#   scripts/update-golden.sh [BUILD_DIR]        (default build)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-"$here/build"}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
PATH=/nonexistent "$build/ternbench" report "$here/tests/data/golden/results.json" -o "$out" > /dev/null
cp "$out/report.md" "$out/report.html" "$here/tests/data/golden/"
echo "updated tests/data/golden/report.md and report.html: review 'git diff tests/data/golden'"
