#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `tcpfsm serve` at scale: a scrape's time and serve's memory with many
# tracked sockets. In a fresh network namespace, serve starts first (so that
# every socket is tracked: socket-local storage, timewait map), then estgen
# holds ESTABLISHED pairs (two sockets each) and twgen leaves TIME_WAIT
# sockets. Then SCRAPES scrapes, INTERVAL apart (spanning reconciliations,
# every RECONCILE), timed with curl's time_total: min, median, max. serve's
# VmRSS and VmHWM (its peak) after them, the kernel's count of sockets
# (/proc/net/sockstat in the namespace) and serve's.
#
# TIME_WAIT lasts 60 s: the scrapes must be done within it (the script says
# how long after the last TIME_WAIT socket they ended).
#
# Usage: tools/bench-serve-scale.sh [-n SOCKETS] [-w TIME_WAIT] [-k SCRAPES]
#          [-i INTERVAL] [-r RECONCILE] [-b BY] [BUILD_DIR]
#   SOCKETS in all (default 1000000), TIME_WAIT of them (default 200000; the
#   rest ESTABLISHED, an even number), BY: serve's --by (lport, cgroup, ...)
set -euo pipefail

total=1000000
tw=200000
scrapes=21
interval=0.5
reconcile=5s
by=""
while getopts "n:w:k:i:r:b:h" o; do
	case "$o" in
	n) total=$OPTARG ;;
	w) tw=$OPTARG ;;
	k) scrapes=$OPTARG ;;
	i) interval=$OPTARG ;;
	r) reconcile=$OPTARG ;;
	b) by=$OPTARG ;;
	*) sed -n '3,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
build=${1:-build}
tcpfsm=$build/tcpfsm
estgen=$build/tools/estgen
twgen=$build/tools/twgen
[ "$(id -u)" = 0 ] || { echo "bench-serve-scale: needs root" >&2; exit 1; }
for x in "$tcpfsm" "$estgen" "$twgen"; do
	[ -x "$x" ] || { echo "bench-serve-scale: build first (make): $x" >&2; exit 1; }
done
pairs=$(((total - tw) / 2))
[ "$pairs" -ge 0 ] || { echo "bench-serve-scale: -w over -n" >&2; exit 2; }

tmp=$(mktemp -d /tmp/bench-serve-scale.XXXXXX)
ns=tfsmscale$$
pid=""
est=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$est" ] && exec 3>&- && wait "$est" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add $ns
ip -n $ns link set lo up
ip netns exec $ns sysctl -qw net.ipv4.tcp_max_tw_buckets=4000000
ip netns exec $ns sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$tcpfsm" serve --netns /run/netns/$ns --listen 127.0.0.1:$port --reconcile "$reconcile" \
	--max-time-wait $((tw + tw / 4 + 1024)) ${by:+--by "$by"} > /dev/null 2> "$tmp/err" &
pid=$!
for _ in $(seq 300); do
	grep -q "serving http" "$tmp/err" && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/err" >&2; exit 1; }
	sleep 0.1
done

echo "# $0 -n $total -w $tw -k $scrapes -i $interval -r $reconcile ${by:+-b $by} $build" \
	"($(nproc) CPUs, $(uname -r), $(awk '/MemTotal/{printf "%.0f GiB", $2 / 1048576}' /proc/meminfo))"
t0=$(date +%s.%N)
mkfifo "$tmp/hold"
ip netns exec $ns "$estgen" -n "$pairs" -s 64 -p 16 < "$tmp/hold" > "$tmp/est" &
est=$!
exec 3> "$tmp/hold"
while ! grep -q "pairs" "$tmp/est"; do
	kill -0 "$est" 2>/dev/null || { echo "bench-serve-scale: estgen failed" >&2; exit 1; }
	sleep 0.2
done
t1=$(date +%s.%N)
[ "$tw" -gt 0 ] && ip netns exec $ns "$twgen" -n "$tw" -s 64 -p 16 -t 2
t2=$(date +%s.%N)
echo "made: $((pairs * 2)) ESTABLISHED in $(echo "$t1 - $t0" | bc) s, $tw TIME_WAIT in $(echo "$t2 - $t1" | bc) s"
echo "kernel: $(ip netns exec $ns cat /proc/net/sockstat | grep '^TCP:')"

# scrapes: time_total and size
for i in $(seq "$scrapes"); do
	curl -s -o "$tmp/m" -w '%{time_total}\n' http://127.0.0.1:$port/metrics >> "$tmp/times"
	sleep "$interval"
done
t3=$(date +%s.%N)
echo "scrape: in order (ms): $(awk '{printf "%.1f ", $1 * 1000}' "$tmp/times")"
sort -n "$tmp/times" | awk '{ a[NR] = $1 } END {
	printf "scrape: %d scrapes, time_total min %.1f ms, median %.1f ms, max %.1f ms\n",
	       NR, a[1] * 1000, a[int((NR + 1) / 2)] * 1000, a[NR] * 1000 }'
echo "scrape: $(wc -c < "$tmp/m") bytes, $(grep -vc '^#' "$tmp/m") samples; scrapes ended $(echo "$t3 - $t2" | bc) s after the last TIME_WAIT"
awk '/^tcpfsm_sockets\{/ { s += $2 } /^tcpfsm_sockets\{state="(established|time_wait)"\}/ { printf "serve: %s %s\n", $1, $2 }
     /^tcpfsm_reconcile_duration_seconds / { printf "serve: last reconciliation %.2f s\n", $2 }
     /^tcpfsm_events_lost_total/ { l += $2 }
     END { printf "serve: %d sockets in all, %d lost\n", s, l }' "$tmp/m"
grep -E '^Vm(RSS|HWM)' /proc/$pid/status | tr -s ' \t' ' ' | sed 's/^/serve: /'
