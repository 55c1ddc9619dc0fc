#!/usr/bin/env bash
# readme.sh BINARY README - runs the README's commands so that the README
# cannot rot: every line of its ```sh blocks is either run (the cheap ones,
# with build/ternbench replaced by the binary under test) or named as skipped
# with the reason. Fails when a command it runs fails, or when a line names a
# command ternbench does not have.
set -uo pipefail
tb=$(realpath "$1")
readme=$2
status=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the fenced sh blocks, with backslash continuations joined
awk '/^```sh$/ {on=1; next} /^```/ {on=0} on' "$readme" | sed -e :a -e '/\\$/N; s/\\\n//; ta' > "$work/commands"
while IFS= read -r line; do
  cmd=${line%%#*}
  cmd=$(echo "$cmd" | sed 's/[[:space:]]*$//')
  [ -z "$cmd" ] && continue
  case "$cmd" in
    scripts/test.sh*) echo "readme: skipped (it is what runs this): $cmd"; continue ;;
    scripts/reproduce.sh*) echo "readme: skipped (minutes; test_report runs reproduce): $cmd"; continue ;;
    *--peer*) echo "readme: skipped (needs peers built outside the project): $cmd"; continue ;;
  esac
  sub=$(echo "$cmd" | awk '{print $2 == "help" ? $3 : $2}')
  if ! "$tb" help "$sub" > /dev/null 2>&1; then
    echo "readme: '$cmd' names no ternbench command"
    status=1
    continue
  fi
  run=${cmd/build\/ternbench/$tb}
  if (cd "$work" && eval "$run") > "$work/out" 2>&1; then
    echo "readme: ran: $cmd"
  else
    echo "readme: failed: $cmd"
    tail -5 "$work/out"
    status=1
  fi
done < "$work/commands"
exit $status
