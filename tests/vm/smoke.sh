#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Smoke test of one kernel, as root (run in a guest by `make vmsmoke`): in a
# scratch network namespace, one loopback connection, client closing first,
# traced live by `trace`, `life` and `stats` at once: the client's whole
# path (FIN_WAIT2 -> TIME_WAIT, and TIME_WAIT's end: killed with ss -K, to
# stay fast), the server's, one lifecycle each, the states' counts. Then
# `snapshot` lists the namespace's listener. Exits non-zero with the first
# failed check named.
#
#   tests/vm/smoke.sh [BUILD_DIR]
set -euo pipefail

build=${1:-build}
tcpfsm=$build/tcpfsm
port=7301
ns=tcpfsm-smoke-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "smoke: FAIL: $*" >&2
	for f in "$tmp"/*.err; do
		echo "--- $f" >&2
		cat "$f" >&2
	done
	exit 1
}
# wait up to 20 s for a command to succeed
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 200); do
		"$@" && return 0
		sleep 0.1
	done
	fail "timed out waiting for $what"
}

t0=$(date +%s.%N)
echo "smoke: kernel $(uname -r)"
"$tcpfsm" --version
ip netns add "$ns"
ip -n "$ns" link set lo up
ino=$(stat -L -c %i "/run/netns/$ns")

for cmd in trace life stats; do
	args=(--netns "$ino")
	[ "$cmd" = stats ] || args+=(--json)
	"$tcpfsm" "$cmd" "${args[@]}" >"$tmp/$cmd.out" 2>"$tmp/$cmd.err" &
	pids+=($!)
done
for cmd in trace life stats; do
	wait_for "$cmd to attach" grep -q "Ctrl-C to stop" "$tmp/$cmd.err"
done
# serve, aggregated in the kernel: its own BPF object must load here too
"$tcpfsm" serve --netns "/run/netns/$ns" --listen "127.0.0.1:$((port + 2))" \
	>"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
pids+=("$spid")
wait_for "serve to listen" grep -q "serving http" "$tmp/serve.err"

# the connection: the client closes first, the server reads EOF, closes
ip netns exec "$ns" python3 - "$port" <<'EOF'
import socket, sys
port = int(sys.argv[1])
lis = socket.socket()
lis.bind(("127.0.0.1", port))
lis.listen()
cli = socket.create_connection(("127.0.0.1", port))
srv, _ = lis.accept()
cli.sendall(b"x")
srv.recv(1)
cli.close()
assert srv.recv(1) == b""
srv.close()
lis.close()
EOF
tw_seen() { ip netns exec "$ns" ss -tanH state time-wait | grep -q ":$port\b"; }
wait_for "the client's TIME_WAIT (ss)" tw_seen
ip netns exec "$ns" ss -K -tan state time-wait "( dport = :$port )" >/dev/null
tw_gone() { ! tw_seen; }
wait_for "TIME_WAIT killed (ss -K)" tw_gone
tw_end() { grep -q '"oldstate":"TIME_WAIT","newstate":"CLOSE"' "$tmp/trace.out"; }
wait_for "trace: TIME_WAIT -> CLOSE" tw_end
two_lives() { [ "$(grep -c '"type":"life"' "$tmp/life.out")" -ge 2 ]; }
wait_for "life: both ends' lifecycles" two_lives

# serve: both ends' closes counted; the client's FIN_WAIT2 handed over to
# its timewait minisocket (no close of its own), turned TIME_WAIT at the
# server's FIN, and that TIME_WAIT killed early (ss -K) is counted as such
# within a scrape or two; SIGTERM ends it with 0
scrape() {
	python3 - "$((port + 2))" >"$tmp/metrics" <<'EOF' || fail "serve: /metrics unreadable"
import sys, urllib.request
print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode())
EOF
}
early_end() { scrape; grep -qF 'tcpfsm_time_wait_ends_total{end="early"} 1' "$tmp/metrics"; }
wait_for "serve: the early TIME_WAIT end" early_end
for m in 'tcpfsm_transitions_total{from="close_wait",to="last_ack"} 1' \
	'tcpfsm_transitions_total{from="fin_wait2",to="time_wait"} 1' \
	'tcpfsm_time_wait_ends_total{end="early"} 1' \
	'tcpfsm_time_wait_ends_total{end="expired"} 0' \
	'tcpfsm_state_duration_seconds_count{state="time_wait"} 1' \
	'tcpfsm_connections_closed_total{open="active",close="active"} 1' \
	'tcpfsm_connections_closed_total{open="passive",close="passive"} 1'; do
	grep -qF "$m" "$tmp/metrics" || fail "serve: no '$m' in /metrics"
done
! grep -E '^tcpfsm_transitions_total\{from="fin_wait2",to="close"\} [1-9]' "$tmp/metrics" ||
	fail "serve: FIN_WAIT2's handover to its minisocket counted as a close"
kill -TERM "$spid"
wait "$spid" || fail "serve exited $?"
pids=("${pids[@]:0:3}")	# the tracers

# a listener for snapshot, while the tracers still run
ip netns exec "$ns" python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]) + 1)); s.listen()
print("ok", flush=True); time.sleep(60)' "$port" >"$tmp/listener.out" &
lpid=$!
wait_for "the snapshot listener" grep -q ok "$tmp/listener.out"
"$tcpfsm" snapshot --netns "/run/netns/$ns" >"$tmp/snapshot.out" 2>"$tmp/snapshot.err" ||
	fail "snapshot exited $?"
kill "$lpid"
wait "$lpid" 2>/dev/null || true

for p in "${pids[@]}"; do kill -INT "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a tracer exited $?"; done
pids=()

# trace: the client's path, in order, and the server's. An end is the
# cookie of its first record with both ports (connect() picks the client's
# after CLOSE -> SYN_SENT) and a cookie (the server's request has none).
python3 - "$tmp/trace.out" "$port" >"$tmp/paths" <<'EOF'
import json, sys
port = int(sys.argv[2])
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if r.get("type") == "transition"]
def cookie(mine):
    return next((r["cookie"] for r in recs
                 if mine(r) and r["cookie"] and r["sport"] and r["dport"]), None)
ends = [("client", cookie(lambda r: r["dport"] == port)),
        ("server", cookie(lambda r: r["sport"] == port))]
for name, c in ends:
    # the server's request (cookie 0) joins its child: one path
    print(name, " ".join(r["oldstate"] + ">" + r["newstate"] for r in recs
                         if c is not None and (r["cookie"] == c or
                             (name == "server" and r.get("source") == "request"
                              and r["sport"] == port))))
client = next((r["sport"] for r in recs if r["dport"] == port and r["sport"]), 0)
print("client_port", client)
EOF
client=$(awk '$1 == "client_port" { print $2 }' "$tmp/paths")
want="client CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>TIME_WAIT TIME_WAIT>CLOSE"
got=$(grep '^client ' "$tmp/paths")
[ "$got" = "$want" ] || fail "trace: '$got', want '$want'"
want="server LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE"
got=$(grep '^server ' "$tmp/paths")
[ "$got" = "$want" ] || fail "trace: '$got', want '$want'"
grep -q '"oldstate":"TIME_WAIT","newstate":"CLOSE".*"end":"killed"' "$tmp/trace.out" ||
	fail "trace: TIME_WAIT did not end as killed"

# life: the client's lifecycle, opened actively, through TIME_WAIT, killed
python3 - "$tmp/life.out" "$client" <<'EOF' || fail "life: the client's lifecycle is wrong"
import json, sys
lives = [json.loads(l) for l in open(sys.argv[1])]
c = [r for r in lives if r.get("type") == "life" and r["sport"] == int(sys.argv[2])]
assert len(c) == 1, c
c = c[0]
states = [p["state"] for p in c["path"]]
assert states == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"], states
assert (c["open"], c["close"], c["end"]) == ("active", "active", "killed"), c
assert not c["incomplete"], c
EOF

# stats: each state the two ends went through, counted
for s in SYN_SENT SYN_RECV FIN_WAIT2 TIME_WAIT CLOSE_WAIT LAST_ACK; do
	grep -q "^$s " "$tmp/stats.out" || fail "stats: no $s line"
done
grep -q "^ESTABLISHED *2 " "$tmp/stats.out" || fail "stats: ESTABLISHED not counted twice"

# snapshot: the namespace's listener
grep -q "LISTEN.*127.0.0.1:$((port + 1))" "$tmp/snapshot.out" ||
	fail "snapshot: no listener on $((port + 1))"

echo "smoke: ok ($(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }") s)"
