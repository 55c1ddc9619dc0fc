#!/usr/bin/env bash
# fuzz.sh - builds the GGUF reader's (and tokenizer's) libFuzzer target with clang (ASan +
# UBSan) and runs it for a bounded time on a seed corpus written by
# ternbench's own GGUF writer. Exit status non-zero on any crash.
#
#   ci/fuzz.sh [SECONDS]      (default 30)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-30}
out="$here/build-fuzz"
mkdir -p "$out/corpus"
src=("$here/engine/gguf.c" "$here/engine/gguf_write.c" "$here/engine/tokenizer.c"
     "$here/common/tb_error.c")
inc=(-I"$here/common" -I"$here/engine")
cc -O2 -std=c11 -D_GNU_SOURCE "${inc[@]}" "${src[@]}" "$here/tests/gguf_seeds.c" -o "$out/gguf_seeds"
"$out/gguf_seeds" "$out/corpus"
clang -O1 -g -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined "${inc[@]}" "${src[@]}" "$here/tests/fuzz_gguf.c" \
  -o "$out/fuzz_gguf"
"$out/fuzz_gguf" -max_total_time="$secs" -max_len=8192 -print_final_stats=1 \
  "$out/corpus" 2>&1 | tail -n 12
