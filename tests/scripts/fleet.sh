#!/usr/bin/env bash
# fleet.sh BINARY SRC - the fleet playbook run for real against three
# inventory hosts on this machine (ansible_connection=local), each with its
# own output and kernels (TERNBENCH_ISA scalar, avx2, avx512, so that they
# look like three machines), and a fourth made to fail (a bad option): the
# merged report must have the three machines' curves and rows, and name the
# failed one. Skipped (exit 77, and said) without ansible-playbook.
set -uo pipefail
tb=$(realpath "$1")
src=$(realpath "$2")
if ! command -v ansible-playbook > /dev/null; then
  echo "fleet: skipped: ansible-playbook is not installed (apt-get install ansible-core)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build=$(dirname "$tb")
cat > "$work/inventory.ini" <<INV
[fleet]
scalarbox tb_isa=scalar
avx2box tb_isa=avx2
avx512box tb_isa=avx512
broken tb_reproduce_args="--sizes nope"

[all:vars]
ansible_connection=local
ansible_python_interpreter=/usr/bin/python3
tb_copy_source=false
tb_src=$src
tb_build=$build
tb_skip_build=true
tb_out=$work/out/{{ inventory_hostname }}
tb_results=$work/results
tb_controller=$tb
tb_reproduce_args="--sizes 125M --formats i2_s,f16 -n 4 -p 4 -r 3 --precision 50% --max-time 5 --max-lost 100%"
INV
start=$(date +%s)
ANSIBLE_NOCOLOR=1 ANSIBLE_STDOUT_CALLBACK=default ansible-playbook --forks 1 -i "$work/inventory.ini" \
  "$src/fleet/site.yml" > "$work/log" 2>&1
rc=$?
echo "fleet: the playbook took $(( $(date +%s) - start )) s (exit $rc: a failed host makes it 2)"
status=0
check() { # check DESCRIPTION COMMAND...
  if ! "${@:2}"; then echo "fleet: FAILED: $1"; status=1; fi
}
check "the failing host is named" grep -q "no results from: broken" "$work/log"
for h in scalarbox avx2box avx512box; do
  check "$h's results came back" test -s "$work/results/$h/results.json"
  check "$h's curve is in the chart" grep -q "^# $h (" "$work/results/report/speedup.dat"
  check "$h's row is in the summary" grep -q "^| $h (" "$work/results/report/report.md"
done
check "no results from the failed host" test ! -e "$work/results/broken/results.json"
# a re-run skips hosts whose results are fresh
ANSIBLE_NOCOLOR=1 ansible-playbook --forks 1 -i "$work/inventory.ini" "$src/fleet/site.yml" \
  --limit scalarbox,localhost > "$work/log2" 2>&1
check "a fresh host is skipped on a re-run" grep -q "skip a host measured less than" "$work/log2"
check "the skipped host ran nothing" bash -c "! grep -q 'run-host.sh' '$work/log2' || ! grep -A2 'install, build' '$work/log2' | grep -q changed"
if [ $status != 0 ]; then
  tail -60 "$work/log"
fi
[ $status = 0 ] && echo "fleet: three machines reported, the failed one named, fresh results skipped"
exit $status
