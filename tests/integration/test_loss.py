"""Nothing is lost silently: real ring-buffer overflow (root)."""
import contextlib
import json
import os
import re
import signal
import socket
import struct
import subprocess

import pytest

from conftest import BIN, jsonl, listener, run, ss_sockets, wait_for
from netns import Netns

LOADGEN = os.path.join(os.path.dirname(BIN), "tools", "loadgen")


def lost_count(stderr):
    m = re.findall(r"(\d+) events, (\d+) lost", stderr)
    assert m, f"no closing summary: {stderr!r}"
    return int(m[-1][1])


@contextlib.contextmanager
def ring_overflowed(t):
    """The tracer t stopped (SIGSTOP) while loadgen makes 3000 connections
    (about 30000 records: more than a 1 MiB ring holds); continued when the
    block ends."""
    os.kill(t.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: open(f"/proc/{t.proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T",
                 what="the tracer to stop")
        out = subprocess.run([LOADGEN, "-n", "3000", "-d", "60"], capture_output=True,
                             text=True, timeout=120, check=True).stdout
        assert "connections=3000" in out, out
        yield
    finally:
        os.kill(t.proc.pid, signal.SIGCONT)


def test_overflow_is_counted_reported_recorded_and_replayed(tracer, tmp_path):
    """Stop the reader, overflow the smallest ring buffer (1 MiB, about 8700
    records) with 3000 connections (about 30000 records), let it go. The
    kernel's count reaches the warning and the summary, a connection alive
    across the loss ends incomplete, and the recording's replay reports the
    same loss and the same connection incomplete."""
    rec = tmp_path / "lost.rec"
    t = tracer("--ringbuf-size", "1", "--record", str(rec), cmd="life")
    lis = listener()
    c = socket.create_connection(lis.getsockname())
    s, _ = lis.accept()
    sport, dport = c.getsockname()[1], lis.getsockname()[1]
    with ring_overflowed(t):
        pass  # nothing else happens while it is stopped
    wait_for(lambda: "records lost so far" in t.stderr(), timeout=15, what="the loss warning")
    # end it with a reset: no TIME_WAIT to wait out
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    s.close()
    lis.close()

    def ours(lives):
        # by both ports (loadgen's connections reuse ephemeral ports), and
        # ended, not open at exit
        return [l for l in lives if l["sport"] == sport and l["dport"] == dport
                and l["family"] == "ipv4" and not l["at_exit"]]
    t.wait(ours, what="the connection alive across the loss to end")
    lives = t.stop()
    assert t.returncode == 0, t.stderr()
    lost = lost_count(t.stderr())
    assert lost > 0, t.stderr()
    assert len(ours(lives)) == 1, ours(lives)
    [live] = ours(lives)
    assert live["incomplete"], live
    p = run("life", "--replay", str(rec), "--json")
    assert p.returncode == 0, p.stderr
    assert lost_count(p.stderr) == lost, p.stderr
    [replayed] = ours(jsonl(p.stdout))
    assert replayed["incomplete"] and replayed["cookie"] == live["cookie"], replayed


def test_loadgen_count_is_exact_when_connects_fail():
    """The test above counts on `loadgen -n N` making exactly N connections.
    A connect that fails is retried, the last ones too: here every 4th new
    SYN is dropped, its retransmissions as well, so that connect times out
    after 2 s (loadgen's bound) while the others finish. loadgen used to
    stop once every ticket was claimed: one short per failure in flight."""
    ns = Netns("g")
    try:
        ns.nft("table inet t {\n"
               "  set bad { type inet_service; flags dynamic,timeout; timeout 60s; }\n"
               "  chain o {\n"
               "    type filter hook output priority 0; policy accept;\n"
               "    tcp flags & (syn|ack) == syn tcp sport @bad drop\n"
               "    tcp flags & (syn|ack) == syn numgen inc mod 4 == 3 add @bad { tcp sport } drop\n"
               "  }\n}\n")
        out = ns.exec(LOADGEN, "-n", "20", "-t", "4", "-d", "25")
    finally:
        ns.delete()
    assert "connections=20 " in out, out
    assert int(re.search(r"errors=(\d+)", out).group(1)) > 0, out  # some did fail


def test_connection_closed_while_records_lost_ends_gone(tracer, tmp_path, inside_netns):
    """Two connections open before the reader stops; the ring is overflowed,
    then one is reset while the reader is still stopped, so its closing
    records are lost. Live, the dump after the loss does not find it: `life`
    ends it, "gone" and incomplete; the other one, which the dump finds, is
    not ended, and when it closes later it ends as it closed. The
    recording holds what the dump found: its replay ends the reset one
    "gone" too, at the same point."""
    rec = tmp_path / "gone.rec"
    # in a namespace of its own: the other tests' traffic cannot keep the
    # small ring overflowing (and the dump after the loss undecided)
    t = tracer("--ringbuf-size", "1", "--record", str(rec),
               "--netns", str(inside_netns.inode), cmd="life")
    lis = listener()
    gone_c = socket.create_connection(lis.getsockname())
    gone_s, _ = lis.accept()
    kept_c = socket.create_connection(lis.getsockname())
    kept_s, _ = lis.accept()
    gone_port, kept_port = gone_c.getsockname()[1], kept_c.getsockname()[1]
    lis_port = lis.getsockname()[1]  # still needed after lis.close()
    with ring_overflowed(t):
        # the ring is full: this reset's records (both ends) are lost
        gone_c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone_c.close()
        wait_for(lambda: gone_port not in {s["rport"] for s in ss_sockets()},
                 what="the reset to reach the server's end")

    def ours(lives, port):
        return [l for l in lives if l["type"] == "life" and l["family"] == "ipv4" and
                port in (l["sport"], l["dport"]) and lis_port in (l["sport"], l["dport"])]
    lives = t.wait(lambda ls: len(ours(ls, gone_port)) == 2 and ls, timeout=20,
                   what="both ends of the reset connection to end")
    for gone in ours(lives, gone_port):
        assert gone["end"] == "gone" and gone["incomplete"], gone
        assert gone["path"][-1]["ns"] is None and gone["lifetime_ns"] is None, gone
    assert ours(lives, kept_port) == [], ours(lives, kept_port)
    # the server closes first: the client's end goes CLOSE_WAIT -> LAST_ACK -> CLOSE
    kept_s.close()
    wait_for(lambda: any(s["lport"] == kept_port and s["state"] == "CLOSE_WAIT"
                         for s in ss_sockets()),
             what="the kept connection's client to see the FIN")
    kept_c.close()
    lives = t.wait(lambda ls: [l for l in ours(ls, kept_port) if l["sport"] == kept_port],
                   what="the kept connection's client to end")
    lives = t.stop()
    assert t.returncode == 0, t.stderr()
    [kept] = [l for l in ours(lives, kept_port) if l["sport"] == kept_port]
    assert "end" not in kept and kept["close"] == "passive", kept
    assert kept["path"][-1]["state"] == "LAST_ACK" and kept["path"][-1]["ns"] is not None, kept
    assert kept["incomplete"], kept  # alive across the loss
    assert re.search(r"incomplete \((\d+) gone while records were lost\)", t.stderr()), t.stderr()
    lis.close()
    p = run("life", "--replay", str(rec), "--json", "-T", "mono")
    assert p.returncode == 0, p.stderr
    replayed = jsonl(p.stdout)
    assert ours(replayed, gone_port) == ours(lives, gone_port), ours(replayed, gone_port)
    assert ours(replayed, kept_port) == ours(lives, kept_port)
    assert "gone while records were lost" in p.stderr, p.stderr


@pytest.mark.parametrize("cmd", ["trace", "life", "stats"])
def test_json_stream_reports_every_loss(tracer, tmp_path, cmd):
    """A consumer of JSON alone sees every loss: "lost" records in the
    stream where the loss happened, whose counts add up to exactly what the
    kernel reported (and the summary on stderr says), each split by kind,
    and a final "summary" record. The recording's replay has the same.
    Before, not one JSON line said that 30000 records were lost."""
    rec = tmp_path / "json-loss.rec"
    t = tracer("--ringbuf-size", "1", "--record", str(rec), cmd=cmd)
    with ring_overflowed(t):
        pass
    wait_for(lambda: "records lost so far" in t.stderr(), timeout=15, what="the loss warning")
    t.stop()
    assert t.returncode == 0, t.stderr()
    total = lost_count(t.stderr())
    assert total > 0, t.stderr()
    kinds = dict(zip(("state", "timewait", "request"),
                     map(int, re.search(r"lost \(state (\d+), timewait (\d+), request (\d+)\)",
                                        t.stderr()).groups())))
    stream = t.all_records()
    losses = [r for r in stream if r["type"] == "lost"]
    assert losses, "no lost record in the JSON stream"
    assert sum(r["count"] for r in losses) == total, (losses, total)
    assert losses[-1]["total"] == total
    for r in losses:
        assert sum(r["kinds"].values()) == r["count"], r
    assert {k: sum(r["kinds"][k] for r in losses) for k in kinds} == kinds
    assert stream[-1]["type"] == "summary" and [r["type"] for r in stream].count("summary") == 1
    assert stream[-1]["lost"] == total and stream[-1]["lost_kinds"] == kinds, stream[-1]
    if cmd == "trace":
        # in order: what came out before a loss record was stamped before it
        at = stream.index(losses[0])
        assert all(r["mono_ns"] <= losses[0]["mono_ns"] for r in stream[:at]
                   if r["type"] == "transition")
    p = run(cmd, "--replay", str(rec), "--json", "-T", "mono")
    assert p.returncode == 0, p.stderr
    replayed = [json.loads(l) for l in p.stdout.splitlines()]
    assert [r for r in replayed if r["type"] == "lost"] == losses
    assert replayed[-1]["lost"] == total and replayed[-1]["lost_kinds"] == kinds


def test_table_shows_the_loss_where_it_happened(tracer, tmp_path):
    """A table on stdout, stderr elsewhere: the loss is in the table too,
    a LOST line where it happened, whose counts add up to the summary's."""
    rec = tmp_path / "table-loss.rec"
    t = tracer("--ringbuf-size", "1", "--record", str(rec))
    with ring_overflowed(t):
        pass
    wait_for(lambda: "records lost so far" in t.stderr(), timeout=15, what="the loss warning")
    t.stop()
    total = lost_count(t.stderr())
    p = run("trace", "--replay", str(rec))  # the table, as the live run printed it
    assert p.returncode == 0, p.stderr
    lost = [l for l in p.stdout.splitlines() if l.startswith("LOST ")]
    assert lost and sum(int(l.split()[1]) for l in lost) == total, (lost, total)
    assert lost[-1].endswith(f", {total} in all: connections alive then are incomplete")
