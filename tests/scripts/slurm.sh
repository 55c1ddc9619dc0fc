#!/usr/bin/env bash
# slurm.sh BINARY SRC - the Slurm scripts run for real on a one-node cluster
# started here (munge, slurmctld and slurmd on private ports and files): an
# array task measures the node with fleet/run-host.sh and a job waiting for
# it writes the report. Skipped (exit 77, and said) unless root with
# Debian's slurm-wlm installed.
set -uo pipefail
tb=$(realpath "$1")
src=$(realpath "$2")
for cmd in slurmctld slurmd munged sbatch squeue; do
  if ! command -v $cmd > /dev/null; then
    echo "slurm: skipped: $cmd is not installed (apt-get install slurm-wlm)"
    exit 77
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "slurm: skipped: starting a one-node cluster needs root"
  exit 77
fi
work=$(mktemp -d)
host=$(hostname -s)
mkdir -p "$work/state" "$work/spool" "$work/results"
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 2> /dev/null
chmod 400 "$work/munge.key"
munged --force --socket="$work/munge.socket" --key-file="$work/munge.key" \
  --pid-file="$work/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munge.seed"
cat > "$work/slurm.conf" <<CONF
ClusterName=tbtest
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$work/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
ReturnToService=2
NodeName=$host CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=tb Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf
cleanup() {
  for p in slurmd slurmctld munged; do
    [ -f "$work/$p.pid" ] && kill "$(cat "$work/$p.pid")" 2> /dev/null
  done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for i in $(seq 1 20); do sinfo -h 2> /dev/null | grep -q idle && break; sleep 1; done
export TB_BUILD=$(dirname "$tb") TB_SKIP_BUILD=1
export TB_REPRODUCE_ARGS="--sizes 125M --formats i2_s,f16 -n 4 -p 4 -r 3 --precision 50% --max-time 5 --max-lost 100%"
status=0
if ! "$src/fleet/slurm/submit.sh" --test-only "$work/results" tb > "$work/test-only.txt" 2>&1 ||
   ! grep -q "to start at" "$work/test-only.txt"; then
  echo "slurm: sbatch --test-only refused the jobs:"; cat "$work/test-only.txt"; status=1
fi
start=$(date +%s)
"$src/fleet/slurm/submit.sh" "$work/results" tb:1 > "$work/submit.txt" 2>&1 || status=1
for i in $(seq 1 300); do [ -z "$(squeue -h 2> /dev/null)" ] && break; sleep 1; done
if [ -s "$work/results/$host/results.json" ] && grep -q "^| $host (" "$work/results/report/report.md"; then
  echo "slurm: an array task measured $host and the dependent job reported it ($(( $(date +%s) - start )) s)"
else
  echo "slurm: FAILED: no report of $host"; cat "$work/submit.txt"; tail -20 "$work"/results/*.out; status=1
fi
exit $status
