#!/usr/bin/env bash
# setup.sh - install what ternbench needs (Debian 12 packages) when it is
# missing, then configure and build. Idempotent: a second run installs
# nothing and rebuilds only what changed.
#
#   scripts/setup.sh [BUILD_DIR] [extra cmake -D options...]
#
# Environment: TB_SKIP_APT=1 skips the package step (for machines where the
# packages are present or managed by someone else). TB_SETUP_AARCH64=1 also
# enables Debian's arm64 architecture and installs libcmocka-dev:arm64, which
# the aarch64 cross build's tests (run under qemu-aarch64) link against;
# TB_SETUP_BROWSER=1 installs Debian's chromium, in which a test renders the
# report; TB_SETUP_FLEET=1 installs ansible-core and slurm-wlm, with which
# tests run the fleet playbook and the Slurm scripts on this machine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-"$here/build"}
shift || true

packages=(build-essential cmake ninja-build pkg-config git
          libjansson-dev libpapi-dev libpfm4-dev libcmocka-dev gnuplot-nox xz-utils
          clang libclang-rt-14-dev qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross valgrind)

if [ "${TB_SETUP_AARCH64:-0}" = 1 ]; then
  packages+=(libcmocka-dev:arm64)
fi
if [ "${TB_SETUP_BROWSER:-0}" = 1 ]; then # the report's check in a real browser
  packages+=(chromium)
fi
if [ "${TB_SETUP_FLEET:-0}" = 1 ]; then # the fleet's tests: Ansible, and a one-node Slurm
  packages+=(ansible-core slurm-wlm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ] && [ "${TB_SKIP_APT:-0}" != 1 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 2; }
    sudo=sudo
  fi
  if [ "${TB_SETUP_AARCH64:-0}" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here" -B "$build" "${gen[@]}" "$@" >&2
elif [ "$#" -gt 0 ]; then
  cmake "$build" "$@" >&2
fi
cmake --build "$build" -j "$(nproc)" >&2
