#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Tracing overhead benchmark: the connection rate of build/tools/loadgen with
# and without `tcpfsm trace` running, in paired rounds whose order alternates
# (untraced first in odd rounds, traced first in even ones) so drift, warm-up
# and TIME_WAIT left by the previous run do not all land on one side.
#
# Reports per-round rates, the median traced/untraced ratio, the tracer's
# lost events (from its exit summary; no summary = failure), and the mean run
# time per invocation of each tcpfsm BPF program (kernel.bpf_stats_enabled=1
# during traced rounds only; the old value is restored on exit).
#
# Usage: tools/bench-trace.sh [OPTIONS] [BUILD_DIR]     (root; see -h)
set -euo pipefail

PROGS="handle_set_state handle_timer_start handle_timer_cancel handle_timer_expire"
ATTACH_TIMEOUT_S=30	# the tracer must say it is attached within this
STOP_TIMEOUT_S=30	# and exit within this after SIGINT
FREE_TIMEOUT_S=10	# and the kernel free its programs within this after it exited

usage() {
	cat <<EOF
Usage: $0 [OPTIONS] [BUILD_DIR]

Tracing overhead benchmark (root). BUILD_DIR defaults to build.

  -r, --rounds N        rounds, each one untraced + one traced run (default 5)
  -d, --duration SEC    loadgen --duration per run (default 5)
  -j, --json            trace with --json instead of the table
  -L, --loadgen ARGS    extra loadgen arguments (one word list)
  -T, --trace ARGS      extra 'tcpfsm trace' arguments
  -C, --command CMD     run 'tcpfsm CMD' instead of trace (stats: records
                        and lifecycle engine, no per-transition output)
  -k, --keep DIR        keep the tracer's output and stderr files in DIR
  -n, --untraced-only   skip traced runs (tests the loadgen path only)
  -h, --help
EOF
}

die() {
	echo "bench-trace: $*" >&2
	exit 1
}

build=build
rounds=5
duration=5
json=0
loadgen_extra=""
trace_extra=""
command=trace
keep=""
untraced_only=0
cmdline="$0 $*"

while [ $# -gt 0 ]; do
	case "$1" in
	-r|--rounds) rounds=${2:?}; shift 2 ;;
	-d|--duration) duration=${2:?}; shift 2 ;;
	-j|--json) json=1; shift ;;
	-L|--loadgen) loadgen_extra=${2?}; shift 2 ;;
	-T|--trace) trace_extra=${2?}; shift 2 ;;
	-C|--command) command=${2:?}; shift 2 ;;
	-k|--keep) keep=${2:?}; shift 2 ;;
	-n|--untraced-only) untraced_only=1; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) usage >&2; exit 2 ;;
	*) build=$1; shift ;;
	esac
done
case "$rounds" in ''|*[!0-9]*|0) die "--rounds wants a positive integer" ;; esac
case "$duration" in ''|*[!0-9.]*) die "--duration wants seconds" ;; esac

loadgen="$build/tools/loadgen"
tcpfsm="$build/tcpfsm"
[ -x "$loadgen" ] || die "$loadgen not found (make $loadgen)"
if [ "$untraced_only" = 0 ]; then
	[ -x "$tcpfsm" ] || die "$tcpfsm not found (make)"
	[ "$(id -u)" = 0 ] || die "traced runs need root (or use -n)"
	command -v bpftool >/dev/null || die "bpftool not found"
	[ -x /usr/bin/python3 ] || die "/usr/bin/python3 not found (parses bpftool JSON)"
fi

# shellcheck disable=SC2206
loadgen_cmd=("$loadgen" --duration "$duration" $loadgen_extra)
case "$command" in trace|life|stats) ;; *) die "--command: trace, life or stats" ;; esac
# shellcheck disable=SC2206
trace_cmd=("$tcpfsm" "$command" $trace_extra)
[ "$json" = 1 ] && trace_cmd+=(--json)

tmp=$(mktemp -d /tmp/bench-trace.XXXXXX)
stats_file=/proc/sys/kernel/bpf_stats_enabled
old_stats=""
tracer_pid=""
stopped_ids=""	# BPF program ids of the tracer stopped last, until freed
our_ids=""	# of every tracer started here: never another tracer's
: >"$tmp/foreign"

cleanup() {
	if [ -n "$tracer_pid" ] && kill -0 "$tracer_pid" 2>/dev/null; then
		kill -INT "$tracer_pid" 2>/dev/null || true
		sleep 1
		kill -KILL "$tracer_pid" 2>/dev/null || true
	fi
	if [ -n "$old_stats" ]; then
		echo "$old_stats" >"$stats_file" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$untraced_only" = 0 ]; then
	[ -w "$stats_file" ] || die "$stats_file not writable"
	old_stats=$(cat "$stats_file")
fi
[ -n "$keep" ] && mkdir -p "$keep"

# Ids (of $*) that bpftool still lists.
loaded_ids() {
	local id left=""
	for id in "$@"; do
		bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"
	done
	echo "${left# }"
}

# The kernel frees an exited tracer's programs asynchronously (right after
# stop_tracer they are often still listed): wait, at most FREE_TIMEOUT_S,
# until those of the tracer stopped last are gone, so that the untraced run
# really is untraced. Ours are never counted as another tracer's; any still
# loaded after the wait are reported.
wait_stopped_freed() {
	local left waited=0
	[ -n "$stopped_ids" ] || return 0
	# shellcheck disable=SC2086
	while left=$(loaded_ids $stopped_ids); [ -n "$left" ]; do
		if [ "$waited" -ge $((FREE_TIMEOUT_S * 20)) ]; then
			echo "bench-trace: note: the stopped tracer's programs" \
				"(ids $left) still loaded ${FREE_TIMEOUT_S}s after it exited" >&2
			break
		fi
		sleep 0.05
		waited=$((waited + 1))
	done
	stopped_ids=""
}

# Before an untraced run: any program named like tcpfsm's and not one of
# our tracers' belongs to someone else (noted in $tmp/foreign).
check_untraced() {
	if command -v bpftool >/dev/null && [ -x /usr/bin/python3 ]; then
		wait_stopped_freed
		prog_stats 0 >/dev/null 2>&1 || true
	fi
}

# One loadgen run: sets lg_rate, lg_conns, lg_errors; fails if its result
# line is missing.
run_loadgen() {
	local out
	out=$("${loadgen_cmd[@]}" 2>"$tmp/loadgen.err") ||
		die "loadgen failed: $(cat "$tmp/loadgen.err")"
	lg_rate=$(sed -n 's/.*rate=\([0-9.]*\)\/s.*/\1/p' <<<"$out")
	lg_conns=$(sed -n 's/.*connections=\([0-9]*\).*/\1/p' <<<"$out")
	lg_errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out")
	if [ -z "$lg_rate" ] || [ -z "$lg_conns" ] || [ -z "$lg_errors" ]; then
		die "unexpected loadgen output: '$out'"
	fi
}

# Ids of the BPF programs process $1 holds, from /proc/PID/fdinfo/*
# ("prog_id:" lines). bpftool 7.1 here does not fill "pids", and another
# tracer may have programs with the same names loaded.
prog_ids() {
	grep -hs '^prog_id:' /proc/"$1"/fdinfo/* | awk '{ print $2 }' | sort -u |
		tr '\n' ' '
}

# "PROG RUN_TIME_NS RUN_CNT" per tcpfsm program of process $1; programs of
# the same names owned by others (not by any tracer started here, $our_ids)
# go to $tmp/foreign.
prog_stats() {
	bpftool prog show --json | /usr/bin/python3 -c '
import json, sys
ids = {int(i) for i in sys.argv[1].split()}
ours = {int(i) for i in sys.argv[4].split()}
names = sys.argv[2].split()
with open(sys.argv[3], "a") as foreign:
    for p in json.load(sys.stdin):
        if p.get("name") not in names:
            continue
        if p["id"] not in ids:
            if p["id"] not in ours:
                print(p["id"], p["name"], file=foreign)
            continue
        print(p["name"], p.get("run_time_ns", 0), p.get("run_cnt", 0))
' "$(prog_ids "$1")" "$PROGS" "$tmp/foreign" "$our_ids"
}

# Starts the tracer, waits until it says it is attached.
start_tracer() {
	local r=$1 waited=0
	: >"$tmp/trace.err"
	# job control on: a background job of a script would otherwise start
	# with SIGINT ignored, and a tracer may keep it that way
	set -m
	"${trace_cmd[@]}" >"$tmp/trace.out" 2>"$tmp/trace.err" &
	tracer_pid=$!
	set +m
	# the tracer prints "... tracing ... Ctrl-C to stop." once attached
	until grep -qiE 'ctrl-c to stop|tracing' "$tmp/trace.err"; do
		if ! kill -0 "$tracer_pid" 2>/dev/null; then
			wait "$tracer_pid" || true
			tracer_pid=""
			die "round $r: tracer exited before attaching: $(cat "$tmp/trace.err")"
		fi
		sleep 0.05
		waited=$((waited + 1))
		[ "$waited" -lt $((ATTACH_TIMEOUT_S * 20)) ] ||
			die "round $r: tracer not attached after ${ATTACH_TIMEOUT_S}s: $(cat "$tmp/trace.err")"
	done
}

# SIGINT, wait for the exit, parse "tcpfsm: N events, M lost" into
# tr_events / tr_lost. No summary is a failure, never a silent zero.
stop_tracer() {
	local r=$1 waited=0 rc=0 line
	kill -INT "$tracer_pid"
	while kill -0 "$tracer_pid" 2>/dev/null; do
		sleep 0.05
		waited=$((waited + 1))
		if [ "$waited" -ge $((STOP_TIMEOUT_S * 20)) ]; then
			kill -KILL "$tracer_pid" 2>/dev/null || true
			die "round $r: tracer did not exit ${STOP_TIMEOUT_S}s after SIGINT"
		fi
	done
	wait "$tracer_pid" || rc=$?
	tracer_pid=""
	[ "$rc" = 0 ] || echo "bench-trace: round $r: tracer exit status $rc" >&2
	# tolerant: "N events, M lost", "N event(s) ... M lost", any case
	line=$(grep -iE '[0-9]+ events?\b.*[0-9]+ (records? |events? )?lost' \
		"$tmp/trace.err" | tail -n 1 || true)
	tr_events=$(sed -nE 's/.*\b([0-9]+) events?\b.*/\1/Ip' <<<"$line")
	tr_lost=$(sed -nE 's/.*\b([0-9]+) (records? |events? )?lost.*/\1/Ip' <<<"$line")
	if [ -z "$tr_events" ] || [ -z "$tr_lost" ]; then
		echo "bench-trace: round $r: FAILED: no 'N events, M lost' summary" \
			"from the tracer (exit status $rc). Its stderr:" >&2
		sed 's/^/    /' "$tmp/trace.err" >&2
		exit 1
	fi
	tr_bytes=$(stat -c %s "$tmp/trace.out")
	if [ -n "$keep" ]; then
		cp "$tmp/trace.err" "$keep/round$r.trace.err"
		mv "$tmp/trace.out" "$keep/round$r.trace.out"
	fi
	rm -f "$tmp/trace.out"
}

# $2 = 1: with kernel.bpf_stats_enabled, which itself costs ~30 ns per
# program run, so the ratio rounds run without it and one extra traced run
# measures the programs.
run_traced() {
	local r=$1
	[ "${2:-0}" = 1 ] && echo 1 >"$stats_file"
	start_tracer "$r"
	run_loadgen
	traced_rate=$lg_rate
	traced_conns=$lg_conns
	traced_errors=$lg_errors
	# before SIGINT: the programs (and their stats) go with the tracer
	prog_stats "$tracer_pid" >"$tmp/progs.$r"
	stopped_ids=$(prog_ids "$tracer_pid")
	our_ids="$our_ids $stopped_ids"
	stop_tracer "$r"
	echo "$old_stats" >"$stats_file"
}

# Percent of CPU time idle over one second: others' load skews the rates.
idle_pct() {
	local a b
	a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
		t = y[2] - x[2]; printf "%d", (t > 0 ? 100 * (y[1] - x[1]) / t : 0) }'
}

warn_if_busy() {
	local idle
	idle=$(idle_pct)
	echo "# CPU idle $1: ${idle}%"
	if [ "$idle" -lt 90 ]; then
		echo "WARNING: the machine is busy (${idle}% idle $1); rates are not clean"
	fi
}

echo "# bench-trace: $rounds rounds x (untraced + traced) of ${duration}s; $(nproc) CPUs; kernel $(uname -r)"
echo "# loadgen: ${loadgen_cmd[*]}"
[ "$untraced_only" = 0 ] && echo "# traced:  ${trace_cmd[*]} > FILE   (bpf_stats off; one extra run with it on measures the programs)"
warn_if_busy "before the first run"

ratios=()
untraced_rates=()
traced_rates=()
total_events=0
total_lost=0
total_conns=0
: >"$tmp/progs.all"
for r in $(seq 1 "$rounds"); do
	traced_rate=""
	if [ "$untraced_only" = 1 ]; then
		check_untraced
		run_loadgen
		untraced_rate=$lg_rate
		printf 'round %d: untraced %10.1f/s  loadgen errors %s\n' "$r" \
			"$untraced_rate" "$lg_errors"
		untraced_rates+=("$untraced_rate")
		continue
	fi
	if [ $((r % 2)) = 1 ]; then
		check_untraced
		run_loadgen
		untraced_rate=$lg_rate
		untraced_errors=$lg_errors
		run_traced "$r"
		order="untraced first"
	else
		run_traced "$r"
		check_untraced
		run_loadgen
		untraced_rate=$lg_rate
		untraced_errors=$lg_errors
		order="traced first"
	fi
	ratio=$(awk -v t="$traced_rate" -v u="$untraced_rate" \
		'BEGIN { printf "%.4f", (u > 0 ? t / u : 0) }')
	# events per traced connection: a sanity check that it saw the load
	epc=$(awk -v e="$tr_events" -v c="$traced_conns" \
		'BEGIN { printf "%.1f", (c > 0 ? e / c : 0) }')
	printf 'round %d (%-14s): untraced %9.1f/s  traced %9.1f/s  ratio %s  events %s (%s/conn)  lost %s  output %d MB  loadgen errors %s/%s\n' \
		"$r" "$order" "$untraced_rate" "$traced_rate" "$ratio" \
		"$tr_events" "$epc" "$tr_lost" "$((tr_bytes / 1000000))" \
		"$untraced_errors" "$traced_errors"
	untraced_rates+=("$untraced_rate")
	traced_rates+=("$traced_rate")
	ratios+=("$ratio")
	total_events=$((total_events + tr_events))
	total_lost=$((total_lost + tr_lost))
	total_conns=$((total_conns + traced_conns))
done
if [ "$untraced_only" = 0 ]; then
	run_traced stats 1
	total_events=$((total_events + tr_events))
	total_lost=$((total_lost + tr_lost))
	cat "$tmp/progs.stats" >>"$tmp/progs.all"
	stats_conns=$traced_conns
	echo "stats run (bpf_stats on): traced ${traced_rate}/s, events $tr_events, lost $tr_lost"
fi

median() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR % 2) printf "%.4f", v[(NR + 1) / 2];
		      else printf "%.4f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

warn_if_busy "after the last run"
echo
printf 'median untraced rate: %.1f/s\n' "$(median "${untraced_rates[@]}")"
if [ "$untraced_only" = 0 ]; then
	printf 'median traced rate:   %.1f/s\n' "$(median "${traced_rates[@]}")"
	m=$(median "${ratios[@]}")
	printf 'median traced/untraced ratio: %s (overhead %.1f%%)\n' "$m" \
		"$(awk -v m="$m" 'BEGIN { print (1 - m) * 100 }')"
	printf 'lost events: %d of %d (%s)\n' "$total_lost" "$total_events" \
		"$(awk -v l="$total_lost" -v e="$total_events" \
			'BEGIN { printf "%.4f%%", (e + l > 0 ? 100 * l / (e + l) : 0) }')"
	echo "BPF programs, the stats run (run_time_ns / run_cnt):"
	if [ ! -s "$tmp/progs.all" ]; then
		echo "  (none of $PROGS found in 'bpftool prog show')"
	else
		awk '{ t[$1] += $2; c[$1] += $3 }
			END { for (p in t)
				printf "  %-20s %12d runs  %8.1f ns/run\n", p, c[p],
					(c[p] ? t[p] / c[p] : 0) }' "$tmp/progs.all" | sort
		awk -v n="$stats_conns" '{ t += $2 }
			END { printf "  all programs: %.0f ns of BPF time per traced connection\n",
				(n ? t / n : 0) }' "$tmp/progs.all"
		echo "  (the timer programs run for every kernel timer on the host;" \
			"most runs exit at the first filter)"
	fi
	if [ -s "$tmp/progs.all" ]; then
		for p in $PROGS; do
			grep -q "^$p " "$tmp/progs.all" ||
				echo "  $p: not loaded (or not found)"
		done
	fi
fi
if [ -s "$tmp/foreign" ]; then
	n=$(awk '{ print $1 }' "$tmp/foreign" | sort -un | wc -l)
	echo "WARNING: $n other BPF programs named like tcpfsm's were loaded" \
		"during the runs (ids $(awk '{ print $1 }' "$tmp/foreign" |
			sort -un | head -n 8 | tr '\n' ' ')...):" \
		"another tracer was running; rates are not clean"
fi
echo "command: $cmdline"
