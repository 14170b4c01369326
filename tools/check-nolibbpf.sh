#!/usr/bin/env bash
# What only reads recordings links no libbpf: fail if any binary given (the
# unit tests, the fuzzers) needs it (part of make unit and make fuzz-check).
# The live event source (src/core/loader.c) is the one part that needs
# libbpf and the BPF skeleton; only the tcpfsm binary links it.
#   tools/check-nolibbpf.sh BINARY...
set -u
fail=0
for b in "$@"; do
	# ldd lists what the dynamic loader maps, NEEDED entries' own included
	if ! out=$(ldd "$b" 2>&1); then
		echo "check-nolibbpf: ldd $b: $out" >&2
		fail=1
	elif grep -q 'libbpf' <<<"$out"; then
		echo "check-nolibbpf: $b links libbpf:" >&2
		grep 'libbpf' <<<"$out" >&2
		fail=1
	fi
done
[ "$fail" = 0 ] && echo "check-nolibbpf: $# binaries, none links libbpf"
exit $fail
