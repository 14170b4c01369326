# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A recording is self-contained: its replay prints what the live run
printed, record for record (root).

The run has everything that used to make them differ: connections that
existed before it started (their owners come from seeding), a filter
judged in user space (--state), lost records (the reader stopped while
loadgen overflows the ring), and a connection that ended while its records
were lost (found gone by the dump after the loss). Before, the replay
showed `-` for seeded owners, lines the filter had hidden, and other
incomplete marks."""
import json
import os
import socket
import struct
import subprocess
import tempfile

import pytest

from conftest import BIN, listener, run, ss_sockets, wait_for
from test_loss import ring_overflowed


def pairs(lis, n):
    out = []
    for _ in range(n):
        c = socket.create_connection(lis.getsockname())
        s, _ = lis.accept()
        out.append((c, s))
    return out


def normalised(recs):
    """The summary's "replay" field is the one thing that must differ; and
    a cgroup path, which a replay looks up on the live system: a cgroup
    removed since (another test's) has none then."""
    out = []
    for r in recs:
        r = {k: v for k, v in r.items() if k not in ("replay", "cgroup")}
        out.append(r)
    return out


@pytest.mark.parametrize("cmd", ["trace", "life"])
def test_replay_equals_live(tracer, tmp_path, cmd, inside_netns):
    rec = tmp_path / "live.rec"
    lis = listener()
    lport = lis.getsockname()[1]
    old = pairs(lis, 3)  # before the tracer: seeded, owners from /proc
    # in a namespace of its own: the other tests' traffic cannot keep the
    # small ring overflowing (and the dump after the loss undecided)
    t = tracer("--ringbuf-size", "1", "--record", str(rec), "--netns", str(inside_netns.inode),
               "--state", "ESTABLISHED,FIN_WAIT1,CLOSE_WAIT,LAST_ACK", cmd=cmd)
    assert "seeded at start" not in t.stderr()
    # a seeded connection closes normally: its owner is known only from seeding
    c, s = old[0]
    c.close()
    s.close()
    gone_c, gone_s = old[1]
    gone_port = gone_c.getsockname()[1]
    with ring_overflowed(t):
        # its reset is lost: the dump after the loss finds it gone
        gone_c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone_c.close()
        wait_for(lambda: gone_port not in {x["rport"] for x in ss_sockets()},
                 what="the reset to reach the server's end")
    wait_for(lambda: "records lost so far" in t.stderr(), timeout=15, what="the loss warning")
    new = pairs(lis, 2)  # and connections seen whole after the loss
    for c, s in new + [old[2]]:
        s.close()  # the server first: CLOSE_WAIT, LAST_ACK on its side
        c.close()
    gone_s.close()

    def ended(recs):
        # what ends our other connections' records (found gone, should a
        # busy host make the tracer lose those too)
        if not any(r.get("end") == "gone" and gone_port in (r["sport"], r["dport"])
                   for r in recs):
            return False  # the reset one, found gone by the dump after the loss
        mine = [r for r in recs if lport in (r.get("sport"), r.get("dport")) and
                gone_port not in (r.get("sport"), r.get("dport"))]
        if cmd == "life":
            return len(mine) >= 3
        return len({r["cookie"] for r in mine
                    if r["newstate"] == "LAST_ACK" or r.get("end") == "gone"}) >= 3
    t.wait(ended, timeout=60, what="our connections to end")
    t.stop()
    assert t.returncode == 0, t.stderr()
    live = t.all_records()
    assert live[-1]["type"] == "summary" and live[-1]["lost"] > 0, live[-1]
    assert live[-1]["seeded"] > 0 and live[-1]["gone"] > 0, live[-1]
    ours = [r for r in live if lport in (r.get("sport"), r.get("dport"))]
    assert any(r["pid"] is not None for r in ours)
    p = run(cmd, "--replay", str(rec), "--json", "-T", "mono", timeout=120)
    assert p.returncode == 0, p.stderr
    replayed = [json.loads(l) for l in p.stdout.splitlines()]
    assert replayed[-1]["replay"] is True
    # the paths that could be looked up are the live run's
    for a, b in zip(live, replayed):
        if b.get("cgroup") is not None:
            assert a.get("cgroup") == b["cgroup"], (a, b)
    live, replayed = normalised(live), normalised(replayed)
    # record for record; the first difference, if any, said plainly
    for i, (a, b) in enumerate(zip(live, replayed)):
        assert a == b, f"record {i} differs:\nlive   {a}\nreplay {b}"
    assert len(live) == len(replayed)
    # the closing summaries on stderr agree too
    summary = [l for l in t.stderr().splitlines() if " events, " in l]
    assert summary[-1] in p.stderr.splitlines(), (summary, p.stderr)
    lis.close()


def test_replay_of_table_equals_live_table(tmp_path):
    """Byte for byte in the table too (wall-clock times included: the
    recording carries the clocks)."""
    lis = listener()
    lport = lis.getsockname()[1]
    old = pairs(lis, 2)
    rec = tmp_path / "table.rec"
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen([BIN, "trace", "--rport", str(lport), "--record", str(rec)],
                            stdout=out, stderr=err,
                            env=dict(os.environ, TCPFSM_AGE_SOCK=str(tmp_path / "a.sock")))

    def attached():
        err.seek(0)
        return b"Ctrl-C to stop" in err.read()
    wait_for(attached, timeout=30, what="the tracer to attach")
    for c, s in old + pairs(lis, 2):
        c.close()
        s.close()

    def written():
        out.seek(0)
        return out.read().count(b"FIN_WAIT2   -> TIME_WAIT") >= 4
    wait_for(written, timeout=10, what="the closes")
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    out.seek(0)
    live = out.read().decode()
    p = run("trace", "--replay", str(rec))
    assert p.returncode == 0, p.stderr
    assert p.stdout == live
    # the seeded ones have their owner in both
    assert live.count(f" {os.getpid()} ") >= 8, live
    lis.close()
