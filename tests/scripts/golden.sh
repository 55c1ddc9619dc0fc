#!/usr/bin/env bash
# golden.sh BINARY DATA_DIR - the report of a fixed document equals the
# reviewed golden files (scripts/update-golden.sh regenerates them).
set -euo pipefail
tb=$1
golden=$2/golden
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
PATH=/nonexistent "$tb" report "$golden/results.json" -o "$out" > /dev/null
status=0
for f in report.md report.html; do
  if ! diff -u "$golden/$f" "$out/$f" > "$out/$f.diff"; then
    echo "golden: $f differs from tests/data/golden/$f (scripts/update-golden.sh regenerates it):"
    head -40 "$out/$f.diff"
    status=1
  fi
done
[ $status = 0 ] && echo "golden: report.md and report.html as reviewed"
exit $status
