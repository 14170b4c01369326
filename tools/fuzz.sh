#!/usr/bin/env bash
# Fuzz tcpfsm's two untrusted inputs with libFuzzer, one target each:
#   fuzz_diag    sock_diag replies (src/core/diag.c, what snapshot --from-raw reads)
#   fuzz_replay  recorded files (trace|life|stats --replay FILE: the record
#                reader, reorder buffer, engine and the three formatters)
#
#   tools/fuzz.sh [SECONDS [OUT [TARGET...]]]
#                       fuzz each TARGET (diag, replay; default both) for
#                       SECONDS (default 60) in turn: both take twice SECONDS
#   tools/fuzz.sh --check [OUT]
#                       build both, run each committed seed once, exit
#                       (make test: the targets must keep building and
#                       passing their corpora; the runs take under a second)
#
# Builds into OUT (default build-fuzz; make passes $(BUILD)-fuzz, which
# make clean removes) with clang and -fsanitize=fuzzer,address,undefined;
# needs clang and its runtime (Debian: clang + libclang-rt-N-dev for clang N; tools/deps.sh picks N).
# Both link the Makefile's libraries, libtcpfsm.a and libtcpfsm-cmd.a (made
# in OUT/lib), and nothing of the BPF side: no skeleton, no libbpf (the
# check says so). A target is relinked only when an input is newer.
#
# Each target has its committed seeds, tests/fuzz/corpus-diag and
# tests/fuzz/corpus-replay (made by tests/fuzz/replay_seeds.py). When
# fuzzing they are copied to OUT/corpus-TARGET, which collects what the
# fuzzer finds; crashes, leaks and timeouts are written to OUT as
# TARGET-crash-*, TARGET-leak-*, TARGET-timeout-*. An input that runs
# longer than FUZZ_TIMEOUT seconds (default 10) is a timeout: a hang or a
# blow-up. The check reads the seeds in place and writes nothing there.
set -euo pipefail
check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
	targets=(diag replay)
else
	seconds=${1:-60}
	[ $# -gt 0 ] && shift
fi
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/build-fuzz}
[ $# -gt 0 ] && shift
if [ "$check" = 0 ]; then
	targets=("$@")
	[ ${#targets[@]} -gt 0 ] || targets=(diag replay)
fi
clang=${CLANG:-clang}
timeout=${FUZZ_TIMEOUT:-10}

command -v "$clang" >/dev/null || { echo "fuzz: $clang not found" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-D_GNU_SOURCE -std=gnu11 -Wall -Wextra -Wno-unused-parameter
	-DTCPFSM_VERSION='"fuzz"' -I"$here/include" -I"$here/src/core" -I"$here/src/cmd")

# is $1 missing or older than any of the rest?
stale() {
	local bin=$1 f
	shift
	[ -e "$bin" ] || return 0
	for f in "$@"; do
		[ "$f" -nt "$bin" ] && return 0
	done
	return 1
}

# The core and the commands as libraries (the Makefile's, built by it into
# OUT/lib with clang and the sanitizers): a target takes what it uses
# from them. Neither includes the live source: no skeleton, no libbpf.
libs() {
	make -C "$here" -s --no-print-directory BUILD="$out/lib" CC="$clang" \
		CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
		"$out/lib/libtcpfsm.a" "$out/lib/libtcpfsm-cmd.a"
}

# $1: the target; the rest: the libraries it links
build() {
	local t=$1

	shift
	stale "$out/fuzz_$t" "$here/tests/fuzz/fuzz_$t.c" "$@" \
		"$here"/src/*/*.h "$here"/include/*.h "$0" || return 0
	"$clang" "${cflags[@]}" "$here/tests/fuzz/fuzz_$t.c" "$@" \
		-o "$out/fuzz_$t" -lm
}

build_diag() {
	build diag "$out/lib/libtcpfsm.a"
}

build_replay() {
	build replay "$out/lib/libtcpfsm-cmd.a" "$out/lib/libtcpfsm.a"
}

libs
for t in "${targets[@]}"; do
	case $t in
	diag) build_diag ;;
	replay) build_replay ;;
	*) echo "fuzz: unknown target '$t' (diag or replay)" >&2; exit 2 ;;
	esac
done
cd "$out"

if [ "$check" = 1 ]; then
	for t in "${targets[@]}"; do
		# files, not a directory: libFuzzer runs each once, fuzzes nothing
		seeds=("$here/tests/fuzz/corpus-$t"/*)
		[ -e "${seeds[0]}" ] || {
			echo "fuzz: no seeds in tests/fuzz/corpus-$t" >&2
			exit 1
		}
		"./fuzz_$t" -timeout="$timeout" "${seeds[@]}" \
			>"$out/check-$t.log" 2>&1 || {
			cat "$out/check-$t.log" >&2
			echo "fuzz: fuzz_$t fails on its committed corpus (log above)" >&2
			exit 1
		}
		echo "fuzz: fuzz_$t builds and passes ${#seeds[@]} committed seeds"
	done
	"$here/tools/check-nolibbpf.sh" "${targets[@]/#/$out/fuzz_}"
	exit 0
fi

declare -A max_len=([diag]=65536 [replay]=262144)
for t in "${targets[@]}"; do
	mkdir -p "$out/corpus-$t"
	cp -n "$here/tests/fuzz/corpus-$t"/* "$out/corpus-$t/" 2>/dev/null || true
	echo "fuzz: fuzz_$t for $seconds s" >&2
	# -close_fd_mask=2: the replays' own stderr (summaries, the damage
	# found) is dropped; libFuzzer's and the sanitizers' reports are not
	"./fuzz_$t" -max_total_time="$seconds" -timeout="$timeout" \
		-max_len="${max_len[$t]}" -close_fd_mask=2 \
		-artifact_prefix="$out/$t-" -print_final_stats=1 \
		"$out/corpus-$t" || {
		echo "fuzz: fuzz_$t found a problem (see above; inputs in $out/$t-*)" >&2
		exit 1
	}
done
