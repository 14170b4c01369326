#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `tcpfsm serve --by lport` with many groups: GROUPS listener ports in a
# fresh network namespace, one connection each (its server end's SYN_RECV
# duration observed in the port's group), serve's --max-series GROUPS.
# Times SCRAPES scrapes (curl's time_total), the exposition's size and
# serve's VmRSS/VmHWM.
#
# Usage: tools/bench-serve-groups.sh [-g GROUPS] [-k SCRAPES] [BUILD_DIR]
set -euo pipefail

groups=1000
scrapes=5
while getopts "g:k:h" o; do
	case "$o" in
	g) groups=$OPTARG ;;
	k) scrapes=$OPTARG ;;
	*) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
build=${1:-build}
[ "$(id -u)" = 0 ] || { echo "bench-serve-groups: needs root" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bench-serve-groups.XXXXXX)
ns=tfsmgroups$$
sp=""
hp=""
cleanup() {
	[ -n "$sp" ] && kill "$sp" 2>/dev/null && wait "$sp" 2>/dev/null
	[ -n "$hp" ] && exec 3>&- && wait "$hp" 2>/dev/null
	ip netns del $ns 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add $ns
ip -n $ns link set lo up
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$build/tcpfsm" serve --netns /run/netns/$ns --listen 127.0.0.1:$port --by lport \
	--max-series "$groups" 2> "$tmp/err" > /dev/null &
sp=$!
for _ in $(seq 300); do
	grep -q "serving http" "$tmp/err" && break
	kill -0 "$sp" 2>/dev/null || { cat "$tmp/err" >&2; exit 1; }
	sleep 0.1
done
mkfifo "$tmp/hold"
ip netns exec $ns python3 -c '
import socket, sys
keep = []
for p in range(30000, 30000 + int(sys.argv[1])):
    l = socket.socket(); l.bind(("127.0.0.1", p)); l.listen(8)
    c = socket.create_connection(("127.0.0.1", p)); s, _ = l.accept()
    keep += [l, c, s]
print("ready", flush=True)
sys.stdin.read()
' "$groups" < "$tmp/hold" > "$tmp/ready" &
hp=$!
exec 3> "$tmp/hold"
while ! grep -q ready "$tmp/ready"; do
	kill -0 "$hp" 2>/dev/null || { echo "bench-serve-groups: holder failed" >&2; exit 1; }
	sleep 0.2
done
echo "# $0 -g $groups -k $scrapes $build ($(nproc) CPUs, $(uname -r))"
for _ in $(seq "$scrapes"); do
	curl -s -o "$tmp/m" -w '%{time_total}\n' http://127.0.0.1:$port/metrics >> "$tmp/times"
done
sort -n "$tmp/times" | awk '{ a[NR] = $1 } END {
	printf "scrape: %d scrapes, time_total min %.1f ms, median %.1f ms, max %.1f ms\n",
	       NR, a[1] * 1000, a[int((NR + 1) / 2)] * 1000, a[NR] * 1000 }'
echo "scrape: $(wc -c < "$tmp/m") bytes, $(grep -vc '^#' "$tmp/m") samples"
grep -E '^Vm(RSS|HWM)' /proc/$sp/status | tr -s ' \t' ' ' | sed 's/^/serve: /'
