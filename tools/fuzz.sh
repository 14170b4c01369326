#!/usr/bin/env bash
# Fuzz the sock_diag reply parser (src/diag.c) with libFuzzer.
#
#   tools/fuzz.sh [SECONDS [OUT]]   fuzz for SECONDS (default 60)
#   tools/fuzz.sh --check [OUT]     build, run each committed seed once, exit
#                                   (make test: the target must keep building
#                                   and passing its corpus; under a second)
#
# Builds into OUT (default build-fuzz; make passes $(BUILD)-fuzz, which
# make clean removes) with clang and -fsanitize=fuzzer,address,undefined;
# needs clang and its runtime (Debian: clang + libclang-rt-14-dev). When
# fuzzing, the committed seeds in tests/fuzz/corpus-diag are copied to
# OUT/corpus, which collects what the fuzzer finds; crashes are written to
# OUT as crash-*. The check reads the seeds in place and writes nothing there.
set -euo pipefail
check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
else
	seconds=${1:-60}
	[ $# -gt 0 ] && shift
fi
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/build-fuzz}
clang=${CLANG:-clang}

command -v "$clang" >/dev/null || { echo "fuzz: $clang not found" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
"$clang" -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -D_GNU_SOURCE -std=gnu11 \
	-I"$here/include" -I"$here/src" \
	"$here/tests/fuzz/fuzz_diag.c" "$here/src/diag.c" "$here/src/event.c" \
	"$here/src/u64map.c" \
	-o "$out/fuzz_diag"
cd "$out"
if [ "$check" = 1 ]; then
	# files, not a directory: libFuzzer runs each once, fuzzes nothing
	seeds=("$here"/tests/fuzz/corpus-diag/*)
	[ -e "${seeds[0]}" ] || { echo "fuzz: no seeds in tests/fuzz/corpus-diag" >&2; exit 1; }
	./fuzz_diag "${seeds[@]}" 2>"$out/check.log" || {
		cat "$out/check.log" >&2
		echo "fuzz: the committed corpus fails (log above)" >&2
		exit 1
	}
	echo "fuzz: fuzz_diag builds and passes ${#seeds[@]} committed seeds"
	exit 0
fi
mkdir -p "$out/corpus"
cp -n "$here"/tests/fuzz/corpus-diag/* "$out/corpus/" 2>/dev/null || true
exec ./fuzz_diag -max_total_time="$seconds" -max_len=65536 \
	-print_final_stats=1 "$out/corpus"
