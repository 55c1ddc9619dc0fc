#!/usr/bin/env bash
# test.sh - the whole test suite from a fresh clone: set-up, a warnings-as-
# errors Release build and its tests, the same tests built with
# AddressSanitizer + UndefinedBehaviorSanitizer, and the kernels cross-built
# for aarch64 and tested under qemu-aarch64 (with and without SDOT), a
# bounded libFuzzer run of the GGUF reader, the performance gate (ci/gate.sh)
# and a check that it catches slowed builds (ci/gate-selftest.sh).
# `.ci/run` runs exactly this.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
jobs=$(nproc)

echo "== build (Release, -Werror)"
TB_SETUP_AARCH64=1 TB_SETUP_BROWSER=1 TB_SETUP_FLEET=1 scripts/setup.sh "$here/build" -DCMAKE_BUILD_TYPE=Release -DTB_WERROR=ON
echo "== tests (Release)"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== build (ASan + UBSan)"
TB_SKIP_APT=1 scripts/setup.sh "$here/build-asan" -DCMAKE_BUILD_TYPE=Debug -DTB_WERROR=ON -DTB_SANITIZE=ON
echo "== tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== build (aarch64 cross, kernels)"
TB_SKIP_APT=1 scripts/setup.sh "$here/build-aarch64" -DCMAKE_TOOLCHAIN_FILE="$here/cmake/toolchain-aarch64.cmake" -DTB_WERROR=ON
echo "== tests (aarch64 under qemu)"
ctest --test-dir build-aarch64 --output-on-failure -j "$jobs"

echo "== fuzz (GGUF reader, libFuzzer + ASan/UBSan, 30 s)"
ci/fuzz.sh 30

echo "== performance gate (ci/gate.sh: counted instructions, and speedups against ci/history)"
ci/gate.sh "$here/build"

echo "== the gate's power (ci/gate-selftest.sh: builds 5 % and 10 % slower ternary models)"
ci/gate-selftest.sh "$here/build"
