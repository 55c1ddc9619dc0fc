#!/usr/bin/env bash
# browser.sh BINARY DATA_DIR [SHOT] - renders a report in a real browser
# (Debian's chromium, headless): fails on a console error or a failed
# request, checks that every chart the report embeds is there, and keeps a
# screenshot. Skipped (exit 77, and said) where chromium is not installed.
set -euo pipefail
tb=$1
data=$2
shot=${3:-}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "browser: skipped: chromium is not installed (apt-get install chromium)"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$tb" report "$data/golden/results.json" -o "$out" > /dev/null
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$out/profile" --enable-logging=stderr --v=0)
"$browser" "${flags[@]}" --dump-dom "file://$out/report.html" > "$out/dom.html" 2> "$out/console.txt"
"$browser" "${flags[@]}" --window-size=1280,3000 --screenshot="$out/shot.png" \
  "file://$out/report.html" > /dev/null 2>> "$out/console.txt"
status=0
if grep -E "CONSOLE|Uncaught|net::ERR_|Failed to load" "$out/console.txt" > "$out/errors.txt"; then
  echo "browser: the page logged errors:"
  cat "$out/errors.txt"
  status=1
fi
figures=$(grep -c '<figure' "$out/report.html" || true)
svgs=$(grep -o '<svg' "$out/dom.html" | wc -l)
if [ "$figures" -lt 1 ] || [ "$svgs" -lt "$figures" ]; then
  echo "browser: $figures charts embedded, $svgs rendered as SVG: an image is missing"
  status=1
fi
if ! grep -q "Runs the machine disturbed" "$out/dom.html"; then
  echo "browser: the rendered page lacks its sections"
  status=1
fi
size=$(stat -c %s "$out/shot.png" 2>/dev/null || echo 0)
if [ "$size" -lt 10000 ]; then
  echo "browser: no screenshot ($size bytes)"
  status=1
fi
[ -n "$shot" ] && cp "$out/shot.png" "$shot"
[ $status = 0 ] && echo "browser: rendered in $("$browser" --version), $svgs charts, no console errors"
exit $status
