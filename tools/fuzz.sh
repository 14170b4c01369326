#!/usr/bin/env bash
# Fuzz the sock_diag reply parser (src/diag.c) with libFuzzer.
#
#   tools/fuzz.sh [SECONDS [OUT]]   fuzz for SECONDS (default 60)
#
# Builds into OUT (default build-fuzz; make passes $(BUILD)-fuzz, which
# make clean removes) with clang and -fsanitize=fuzzer,address,undefined;
# needs clang and its runtime (Debian: clang + libclang-rt-14-dev). The
# committed seeds in tests/fuzz/corpus are copied to OUT/corpus, which
# collects what the fuzzer finds; crashes are written to OUT as crash-*.
set -euo pipefail
seconds=${1:-60}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$here/build-fuzz}
clang=${CLANG:-clang}

command -v "$clang" >/dev/null || { echo "fuzz: $clang not found" >&2; exit 1; }
mkdir -p "$out/corpus"
out=$(cd "$out" && pwd)
"$clang" -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -D_GNU_SOURCE -std=gnu11 \
	-I"$here/include" -I"$here/src" \
	"$here/tests/fuzz/fuzz_diag.c" "$here/src/diag.c" "$here/src/event.c" \
	"$here/src/u64map.c" \
	-o "$out/fuzz_diag"
cp -n "$here"/tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
cd "$out"
exec ./fuzz_diag -max_total_time="$seconds" -max_len=65536 \
	-print_final_stats=1 "$out/corpus"
