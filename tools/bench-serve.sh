#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Connection-churn cost of `tcpfsm serve`, side by side with no tracing,
# with the tracer's hooks attached but every record filtered out (`trace
# --lport 1`: the floor of the ring-buffer hook set), and with serve's
# own hooks attached but watching another, idle namespace (serve-idle:
# every call rejected at its first test, the floor of serve's hook set).
# floor0, floor1 and floor2 attach tools/floor.bpf.c on serve's hooks
# instead: doing nothing, counting transitions and minisocket timer events,
# and counting plus one timestamp per socket in socket-local storage (the
# least that time in state needs): what any aggregation on these hooks
# costs at least. serve@DIR runs DIR/tcpfsm serve: two builds side by side. Every run has a fresh
# network namespace with a large tcp_max_tw_buckets, and loadgen's clients
# cycle through 64 source addresses and 16 ports there, so the TIME_WAIT
# sockets are real and the minisocket hooks have work. serve keeps up to 2^20
# timewait minisockets (a run makes ~350,000). The three modes run
# in an order that rotates each round; the result is each mode's rate and the
# median over rounds of its rate / the same round's untraced rate.
#
# It reports serve's lost count (tcpfsm_events_lost_total) and each traced
# run's CPU time. With -s, kernel.bpf_stats_enabled=1 during the traced runs,
# and each program's mean run time per call and calls per connection: the
# statistics cost two clock reads per program run, so the ratios of a run
# with -s are lower than without; take ratios from a run without it.
#
# -m adds the tracing commands, each writing to a file and traced to the
# run's namespace: trace, life, stats (their lost count is read from the
# closing summary).
#
# Usage: tools/bench-serve.sh [-r ROUNDS] [-d SEC] [-m "MODE ..."] [-s] [BUILD_DIR]
#   (root; modes: untraced serve-idle hooks serve trace life stats floor0
#   floor1 floor2 serve@DIR; default the first 4)
set -euo pipefail

rounds=5
duration=5
modes=(untraced serve-idle hooks serve)
with_stats=0
while getopts "r:d:m:sh" o; do
	case "$o" in
	r) rounds=$OPTARG ;;
	d) duration=$OPTARG ;;
	m) read -r -a modes <<<"$OPTARG" ;;
	s) with_stats=1 ;;
	*) sed -n '3,33p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
build=${1:-build}
tcpfsm=$build/tcpfsm
loadgen=$build/tools/loadgen
[ "$(id -u)" = 0 ] || { echo "bench-serve: needs root" >&2; exit 1; }
[ -x "$tcpfsm" ] && [ -x "$loadgen" ] || { echo "bench-serve: build first (make)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/bench-serve.XXXXXX)
stats=/proc/sys/kernel/bpf_stats_enabled
old_stats=$(cat $stats)
pid=""
ns=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	ip netns del "tfsmidle$$" 2>/dev/null
	echo "$old_stats" > $stats
	rm -rf "$tmp"
}
trap cleanup EXIT

# a free port on loopback for serve, picked per run
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Deleting a namespace leaves its sockets to a kernel worker: wait until the
# machine is idle again (under 10% busy over half a second, at most 60 s), so
# one run's teardown is not the next run's load.
settle() {
	local i a b
	for i in $(seq 120); do
		a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
		sleep 0.5
		b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
		awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y);
			exit !((y[1] - x[1]) < 0.1 * (y[2] - x[2])) }' && return 0
	done
	echo "bench-serve: the machine did not settle (busy for 60 s)" >&2
}

# one run: mode, round -> appends "mode round rate extra" to $tmp/results
one() {
	local mode=$1 round=$2 out rate ids lost="" tw="" cpu0 cpu1 conns watched bin
	settle
	ns=tfsmbench$$
	ip netns add $ns
	ip -n $ns link set lo up
	ip netns exec $ns sysctl -qw net.ipv4.tcp_max_tw_buckets=4000000
	case "$mode" in
	untraced) pid="" ;;
	floor[012])
		"$build/tools/floor" "${mode#floor}" > /dev/null 2> "$tmp/err" &
		pid=$! ;;
	hooks)
		"$tcpfsm" trace --lport 1 > /dev/null 2> "$tmp/err" &
		pid=$! ;;
	trace|life|stats)
		"$tcpfsm" "$mode" --netns /run/netns/$ns > "$tmp/out" 2> "$tmp/err" &
		pid=$! ;;
	serve|serve-idle|serve@*)
		port=$(free_port)
		bin=$tcpfsm
		[[ "$mode" = serve@* ]] && bin=${mode#serve@}/tcpfsm
		watched=$ns
		if [ "$mode" = serve-idle ]; then
			watched=tfsmidle$$
			ip netns add $watched
		fi
		"$bin" serve --netns /run/netns/$watched --listen 127.0.0.1:$port \
			--max-time-wait ${MAXTW:-1048576} > /dev/null 2> "$tmp/err" &
		pid=$! ;;
	esac
	if [ -n "$pid" ]; then
		for _ in $(seq 300); do
			grep -qE "Ctrl-C|serving http|attached" "$tmp/err" && break
			kill -0 "$pid" 2>/dev/null || { cat "$tmp/err" >&2; exit 1; }
			sleep 0.1
		done
		echo $with_stats > $stats
		cpu0=$(awk '{print $14 + $15}' /proc/$pid/stat)
	fi
	out=$(ip netns exec $ns "$loadgen" -d "$duration" --srcs 64 --ports 16 2>&1 | tail -1)
	rate=$(echo "$out" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
	conns=$(echo "$out" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
	if [ -n "$pid" ]; then
		bpftool prog show --json > "$tmp/progs.json"
		echo 0 > $stats
		cpu1=$(awk '{print $14 + $15}' /proc/$pid/stat)
		ids=$(awk '/^prog_id:/{print $2}' /proc/$pid/fdinfo/* 2>/dev/null | sort -u | tr '\n' ,)
		if [[ "$mode" = serve* ]]; then
			lost=$(curl -s 127.0.0.1:$port/metrics |
				awk '/^tcpfsm_events_lost_total/{s += $2} END {print s + 0}')
			tw=$(curl -s 127.0.0.1:$port/metrics |
				awk '/^tcpfsm_time_wait_ends_total|^tcpfsm_sockets\{state="time_wait"/{s += $2} END {print s + 0}')
		fi
		kill -TERM $pid
		wait $pid || true
		pid=""
		case "$mode" in
		trace|life|stats)
			lost=$(sed -n 's/^tcpfsm: [0-9]* events, \([0-9]*\) lost.*/\1/p' "$tmp/err" | tail -1)
			rm -f "$tmp/out" ;;
		floor*)
			# counted nothing: measured nothing
			sed -n "s/^floor: \([0-9].*\)/  $mode round $round: \1/p" "$tmp/err" >> "$tmp/progs" ;;
		esac
		python3 - "$mode" "$round" "$conns" "$ids" "$tmp/progs.json" "$((cpu1 - cpu0))" \
			"$(getconf CLK_TCK)" >> "$tmp/progs" <<'PY'
import json, sys
mode, rnd, conns, ids, path, cpu, hz = sys.argv[1:]
conns = int(conns)
mine = {int(x) for x in ids.split(",") if x}
parts = []
for p in sorted(json.load(open(path)), key=lambda p: p.get("name", "")):
    if p["id"] in mine and p.get("run_cnt"):
        parts.append(f'{p["name"]} {p["run_time_ns"] / p["run_cnt"]:.0f} ns x '
                     f'{p["run_cnt"] / conns:.1f}/conn')
print(f"  {mode} round {rnd}: user CPU {int(cpu) / int(hz) / conns * 1e6:.2f} us/conn; "
      + "; ".join(parts))
PY
	fi
	ip netns del $ns
	ns=""
	[ "$mode" = serve-idle ] && ip netns del tfsmidle$$
	echo "$mode $round $rate lost=${lost:-} tw=${tw:-}" >> "$tmp/results"
	printf '%-9s round %d: %s/s %s\n' "$mode" "$round" "$rate" \
		"${lost:+lost=$lost minisock-ends+tw=$tw}" >&2
}

echo "# $0 -r $rounds -d $duration -m \"${modes[*]}\" $build   ($(nproc) CPUs, $(uname -r))"
case " ${modes[*]} " in *" untraced "*) ;; *) modes=(untraced "${modes[@]}") ;; esac
n=${#modes[@]}
for r in $(seq "$rounds"); do
	for i in $(seq 0 $((n - 1))); do
		one "${modes[$(((i + r) % n))]}" "$r"
	done
done
cat "$tmp/progs"
python3 - "$tmp/results" "${modes[@]}" <<'PY'
import statistics, sys
rates = {}
modes = sys.argv[2:]
for line in open(sys.argv[1]):
    mode, rnd, rate = line.split()[:3]
    rates.setdefault(int(rnd), {})[mode] = float(rate)
for mode in modes:
    vals = [r[mode] for r in rates.values()]
    print(f"{mode:9s} median {statistics.median(vals):9.0f} conn/s  runs {' '.join(f'{v:.0f}' for v in vals)}")
for mode in modes:
    if mode == "untraced":
        continue
    ratios = [r[mode] / r["untraced"] for r in rates.values()]
    print(f"{mode}/untraced median {statistics.median(ratios):.3f}  ({' '.join(f'{x:.3f}' for x in ratios)})")
PY
grep lost= "$tmp/results" | grep -v '^untraced\|^hooks\|^serve-idle\|^floor' | awk '{print $1 " " $2 ": " $4 " " $5}'
