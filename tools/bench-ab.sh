#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# A/B cost of two tcpfsm builds on the same load, side by side: rounds
# alternate the binaries (A then B in odd rounds, B then A in even ones), so
# drift lands on both. Each run starts `tcpfsm CMD > /dev/null`, waits until
# it is attached, runs build/tools/loadgen for SEC seconds with
# kernel.bpf_stats_enabled=1, and reports per connection:
#   - each tcpfsm BPF program's mean run time (run_time_ns / run_cnt) and
#     runs per connection, and the BPF time of all of them;
#   - the tracer process's CPU time while loadgen ran (utime + stime from
#     /proc/PID/stat; its start-up, which seeds every socket, left out).
# Absolute numbers move with the machine's load; compare A and B within one
# run of this script.
#
# Usage: tools/bench-ab.sh [-r ROUNDS] [-d SEC] [-C CMD] [-T "ARGS"] BIN_A BIN_B
#        (root; loadgen from build/tools/loadgen, or $LOADGEN)
set -euo pipefail

rounds=3
duration=3
command=trace
args=""
while getopts "r:d:C:T:h" o; do
	case "$o" in
	r) rounds=$OPTARG ;;
	d) duration=$OPTARG ;;
	C) command=$OPTARG ;;
	T) args=$OPTARG ;;
	*) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { echo "bench-ab: two tcpfsm binaries needed (see -h)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-ab: needs root (BPF, bpf_stats)" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
loadgen=${LOADGEN:-$here/build/tools/loadgen}
[ -x "$loadgen" ] || { echo "bench-ab: $loadgen not built (make)" >&2; exit 1; }
for b in "$@"; do [ -x "$b" ] || { echo "bench-ab: $b: not executable" >&2; exit 1; }; done
command -v bpftool >/dev/null || { echo "bench-ab: bpftool not found" >&2; exit 1; }

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
tmp=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$tmp"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)

one() {	# one run of binary $1, labelled $2
	local bin=$1 label=$2 ids out conns cpu
	# shellcheck disable=SC2086
	"$bin" "$command" $args > /dev/null 2> "$tmp/err" &
	pid=$!
	for _ in $(seq 300); do
		grep -q "Ctrl-C" "$tmp/err" && break
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/err" >&2; exit 1; }
		sleep 0.1
	done
	grep -q "Ctrl-C" "$tmp/err" || { echo "bench-ab: $bin did not attach" >&2; exit 1; }
	sysctl -qw kernel.bpf_stats_enabled=1
	# over the load only: start-up (seeding every socket) is not per connection
	cpu=$(awk '{print $14 + $15}' /proc/"$pid"/stat)
	out=$("$loadgen" -d "$duration" 2>&1 | tail -1)
	bpftool prog show --json > "$tmp/progs.json"
	ids=$(awk '/^prog_id:/{print $2}' /proc/"$pid"/fdinfo/* 2>/dev/null | sort -u | tr '\n' ,)
	cpu=$(($(awk '{print $14 + $15}' /proc/"$pid"/stat) - cpu))
	sysctl -qw kernel.bpf_stats_enabled=0
	kill -INT "$pid"
	wait "$pid" || true
	pid=""
	conns=$(echo "$out" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
	[ -n "$conns" ] && [ "$conns" -gt 0 ] || { echo "bench-ab: loadgen: $out" >&2; exit 1; }
	python3 - "$label" "$conns" "$ids" "$cpu" "$hz" "$tmp/progs.json" <<'PY'
import json, sys
label, conns, ids, cpu, hz, path = sys.argv[1:]
conns, cpu, hz = int(conns), int(cpu), int(hz)
mine = {int(x) for x in ids.split(",") if x}
total = 0
parts = []
for p in sorted(json.load(open(path)), key=lambda p: p.get("name", "")):
    if p["id"] in mine and p.get("run_cnt"):
        total += p["run_time_ns"]
        parts.append(f'{p["name"]} {p["run_time_ns"] / p["run_cnt"]:.1f} ns x {p["run_cnt"] / conns:.2f}')
print(f"{label}: {conns} conns; BPF {total / conns:.0f} ns/conn; "
      f"tracer CPU {cpu / hz / conns * 1e6:.2f} us/conn; " + "; ".join(parts))
PY
}

echo "# $0 -r $rounds -d $duration -C $command -T '$args' $1 $2"
for r in $(seq "$rounds"); do
	if [ $((r % 2)) = 1 ]; then
		one "$1" "A"; one "$2" "B"
	else
		one "$2" "B"; one "$1" "A"
	fi
done
