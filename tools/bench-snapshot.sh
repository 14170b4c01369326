#!/usr/bin/env bash
# Benchmark `tcpfsm snapshot` against ss on many TIME_WAIT sockets.
#
#   tools/bench-snapshot.sh [BUILD] [SOCKETS] [ROUNDS]     (root)
#
# In a scratch network namespace (so other work on the host is neither
# disturbed nor measured; tcp_max_tw_buckets is per namespace and dies with
# it) build/tools/twgen makes SOCKETS (default 120000) TIME_WAIT sockets,
# then ROUNDS (default 7) rounds alternate, each command through `sh -c`:
#   listing:  tcpfsm snapshot >/dev/null            vs  ss -tan >/dev/null
#   summary:  tcpfsm snapshot --summary >/dev/null  vs  ss -tan | awk '{++S[$1]} END {...}'
# and print median wall times and ratios (targets: <= 0.5 and <= 0.2).
# TIME_WAIT lasts 60 s: generation and the rounds must fit in it, and the
# socket count is checked before and after.
set -euo pipefail
build=${1:-build}
n=${2:-120000}
rounds=${3:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
tcpfsm="$here/$build/tcpfsm"
twgen="$here/$build/tools/twgen"

[ "$(id -u)" = 0 ] || { echo "bench-snapshot: needs root" >&2; exit 1; }
for f in "$tcpfsm" "$twgen"; do
	[ -x "$f" ] || { echo "bench-snapshot: $f missing (run make)" >&2; exit 1; }
done

ns="tcpfsm-bench-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=$((n * 2))
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"

echo "bench-snapshot: making $n TIME_WAIT sockets in netns $ns" >&2
start=$(date +%s.%N)
ip netns exec "$ns" "$twgen" -n "$n" -s 16 -p 4 -t 4
echo "bench-snapshot: generated in $(echo "$(date +%s.%N) - $start" | bc) s" >&2

ip netns exec "$ns" env TCPFSM_AGE_SOCK=/nonexistent \
	/usr/bin/python3 - "$tcpfsm" "$rounds" "$n" <<'EOF'
import statistics, subprocess, sys, time
tcpfsm, rounds, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
AWK = "awk '{++S[$1]} END {for (s in S) print s, S[s]}'"
pairs = {
    "listing": (f"{tcpfsm} snapshot >/dev/null", "ss -tan >/dev/null"),
    "summary": (f"{tcpfsm} snapshot --summary >/dev/null",
                f"ss -tan | {AWK} >/dev/null"),
}

def count():
    out = subprocess.run(f"{tcpfsm} snapshot --summary --json", shell=True,
                         capture_output=True, text=True, check=True).stdout
    import json
    c = {}
    for line in out.splitlines():
        o = json.loads(line)
        c[o["state"]] = o["count"]
    ss = subprocess.run("ss -tan state time-wait | wc -l", shell=True,
                        capture_output=True, text=True).stdout
    return c.get("TIME_WAIT", 0), int(ss) - 1

def wall(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    return time.perf_counter() - t

tw0, ss0 = count()
print(f"TIME_WAIT sockets: {tw0} (ss: {ss0})")
times = {k: ([], []) for k in pairs}
for r in range(rounds):
    for k, (mine, ref) in pairs.items():
        # alternate the order so neither side always runs on a warm cache
        if r % 2:
            times[k][1].append(wall(ref)); times[k][0].append(wall(mine))
        else:
            times[k][0].append(wall(mine)); times[k][1].append(wall(ref))
tw1, ss1 = count()
print(f"TIME_WAIT sockets after the rounds: {tw1} (ss: {ss1})")
targets = {"listing": 0.5, "summary": 0.2}
for k, (mine, ref) in times.items():
    m, s = statistics.median(mine), statistics.median(ref)
    per_round = statistics.median(a / b for a, b in zip(mine, ref))
    ok = "ok" if per_round <= targets[k] else "MISSED"
    print(f"{k:8s}: tcpfsm {m * 1000:7.1f} ms   reference {s * 1000:7.1f} ms"
          f"   ratio {m / s:.3f} (median per round {per_round:.3f}, "
          f"target <= {targets[k]}: {ok})")
    print(f"          reference: {pairs[k][1]}")
if min(tw0, tw1) < 100000:
    print(f"warning: fewer than 100000 sockets measured ({min(tw0, tw1)})")
EOF
