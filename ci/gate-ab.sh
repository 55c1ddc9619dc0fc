#!/usr/bin/env bash
# gate-ab.sh - the timed A/B gate: this build against another build of
# ternbench, interleaved in one run. bench runs NEW in process and BASE as
# a peer (BASE llama-bench ...), round by round on the same dummy model, so
# the machine's drift falls on both builds alike; the gate judges each
# test's paired ratio NEW/BASE with its 95 % interval (ternbench gate --ab):
# a regression only when the whole interval lies below 1 - threshold.
#
#   ci/gate-ab.sh NEW_TERNBENCH BASE_TERNBENCH OUT_DIR [THRESHOLD]   (default 5%)
#
# Writes OUT_DIR/ab.json, ab.txt (bench) and ab.gate.txt (the verdicts);
# exits with the gate's status (0 pass, 1 a clear regression, 2 an error).
# A run the machine disturbed is run once more; if that one is disturbed
# too, the gate passes with "inconclusive: tainted" (no verdict, said so).
set -euo pipefail
new=$1 base=$2 out=$3 thr=${4:-5%}
mkdir -p "$out"
# a run the machine disturbed (tainted: its retries ran out) gives no
# verdict; it is run once more before the gate says so
for try in 1 2; do
  "$new" bench -m dummy:125M:i2_s --peer base="$base" -n 32 -p 128 -t 2 -r 6 --precision 3% \
    --max-time 120 --json "$out/ab.json" > "$out/ab.txt" 2> "$out/ab.err"
  set +e
  "$new" gate --ab "$out/ab.json" --max-regression "$thr" > "$out/ab.gate.txt"
  rc=$?
  set -e
  grep -q "inconclusive: tainted" "$out/ab.gate.txt" || break
  [ "$try" = 1 ] && echo "gate-ab: the machine disturbed the run (tainted); running it once more"
done
cat "$out/ab.gate.txt"
exit "$rc"
