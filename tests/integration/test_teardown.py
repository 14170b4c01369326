"""Root scenarios for teardown details: a state set again by close(), the
close kind after an RST, what is still open at exit, dual-stack sockets.

As in test_scenarios.py: namespaces of the test's own, peers that own the
sockets, nftables for chosen segments, the test's own CLOCK_MONOTONIC
(time.monotonic_ns(), the clock of the tracer's -T mono) around each
system call it times.
"""
import os
import signal
import subprocess
import time

import pytest

from conftest import wait_for
from test_scenarios import (CLIENT_ACTIVE, SERVER_PASSIVE, MS, S, Scenario,
                            assert_complete, assert_owner, end_time_wait,
                            handshake, pairs, states, two_ports, veth,  # noqa: F401
                            wait_state)


def timed(peer, cmd):
    """Run a peer command; (before, after) on the test's monotonic clock."""
    t0 = time.monotonic_ns()
    peer.do(cmd)
    return t0, time.monotonic_ns()


def no_repeats(sc):
    """No X -> X anywhere: transitions and life paths."""
    for t in sc.trans:
        assert t["oldstate"] != t["newstate"], t
    for l in sc.lives:
        st = states(l)
        assert all(a != b for a, b in zip(st, st[1:])), l


def within(ts, span, what):
    assert span[0] <= ts <= span[1], (what, ts, span)


# ---- a state set again: close() after shutdown() ----

def test_close_in_fin_wait1_after_shutdown(tracer, veth, peers):
    """shutdown(), the FIN held back (dropped at the client's output), then
    close(): the kernel sets FIN_WAIT1 again. One FIN_WAIT1, from the
    shutdown() to the ACK of the retransmitted FIN."""
    sport, cport = two_ports()
    sc = Scenario(tracer, (veth.a, veth.b), sport, cport)
    srv, cli = peers(veth.b, "srv"), peers(veth.a, "cli")
    handshake(srv, cli, veth.addr4[1], sport, cport)
    veth.a.drop("fin", "output", f"tcp sport {cport} tcp flags & fin == fin")
    shut = timed(cli, "shutdown C")
    wait_state(veth.a, cport, "fin-wait-1", "the client's FIN_WAIT1")
    timed(cli, "close C")
    undrop = time.monotonic_ns()
    veth.a.undrop("fin")
    srv.do("eof S")
    srv.do("close S")
    srv.do("close L")
    end_time_wait(veth.a, cport, "the client's TIME_WAIT")
    sc.wait_lives(2)
    sc.stop()

    no_repeats(sc)
    cside = sc.side(cport, sport)
    assert pairs(cside) == CLIENT_ACTIVE, pairs(cside)
    assert_owner(cside, cli)
    within(cside[2]["mono_ns"], shut, "ESTABLISHED -> FIN_WAIT1 at shutdown()")
    # FIN_WAIT1 ends at the ACK of the FIN retransmitted after the undrop
    assert cside[3]["mono_ns"] >= undrop, cside[3]
    assert cside[3]["prev_ns"] == cside[3]["mono_ns"] - cside[2]["mono_ns"], cside[3]
    clife = sc.life(cport, sport)
    assert states(clife) == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"]
    assert clife["close"] == "active"
    assert_complete(clife)


@pytest.mark.parametrize("fin_timeout", [60, 70])
def test_close_in_fin_wait2_orphans(tracer, veth, peers, fin_timeout):
    """shutdown(), the server's ACK (FIN_WAIT2, the application's), then
    close() 0.2 s later: FIN_WAIT2 is set again, and from that close() on
    it is an orphan's. At tcp_fin_timeout 60 the close() hands over to a
    minisocket at once; at 70 the orphaned full socket keeps it, and the
    repeated state is the only record of the close()."""
    sport, cport = two_ports()
    veth.a.sysctl(tcp_fin_timeout=fin_timeout)
    sc = Scenario(tracer, (veth.a, veth.b), sport, cport)
    srv, cli = peers(veth.b, "srv"), peers(veth.a, "cli")
    handshake(srv, cli, veth.addr4[1], sport, cport)
    cli.do("shutdown C")
    wait_state(veth.a, cport, "fin-wait-2", "the client's FIN_WAIT2")
    closed = timed(cli, "close C")
    fin = timed(srv, "eofhold S 0.3")
    srv.do("close L")
    end_time_wait(veth.a, cport, "the client's TIME_WAIT")
    sc.wait_lives(2)
    sc.stop()

    no_repeats(sc)
    cside = sc.side(cport, sport)
    assert pairs(cside) == CLIENT_ACTIVE, pairs(cside)
    assert_owner(cside, cli)
    fw2 = cside[4]
    assert fw2["oldstate"] == "FIN_WAIT2" and fw2.get("orphan") is True, fw2
    # the orphan began at the close(), FIN_WAIT2 ended at the server's FIN
    within(fw2["mono_ns"] - fw2["orphan_ns"], closed, "the orphan's start")
    within(fw2["mono_ns"], (fin[0], fin[1] + 10 * MS), "the server's FIN")
    clife = sc.life(cport, sport)
    assert states(clife) == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"]
    # two tracers, two programs: each stamps its own time
    assert abs(clife["path"][3]["orphan_ns"] - fw2["orphan_ns"]) < 1 * MS, clife["path"]
    assert_complete(clife)


def test_close_in_last_ack_after_shutdown(tracer, veth, peers):
    """The passive end: shutdown() in CLOSE_WAIT (LAST_ACK), the client's
    ACK dropped, then close(): LAST_ACK set again. One LAST_ACK, from the
    shutdown() to the ACK of the retransmitted FIN."""
    sport, cport = two_ports()
    sc = Scenario(tracer, (veth.a, veth.b), sport, cport)
    srv, cli = peers(veth.b, "srv"), peers(veth.a, "cli")
    handshake(srv, cli, veth.addr4[1], sport, cport)
    cli.do("close C")
    srv.do("eof S")
    veth.b.drop("ack", "input", f"tcp sport {cport}")
    shut = timed(srv, "shutdown S")
    wait_state(veth.b, sport, "last-ack", "the server's LAST_ACK")
    timed(srv, "close S")
    undrop = time.monotonic_ns()
    veth.b.undrop("ack")
    srv.do("close L")
    end_time_wait(veth.a, cport, "the client's TIME_WAIT")
    sc.wait_lives(2)
    sc.stop()

    no_repeats(sc)
    sside = sc.side(sport, cport)
    assert pairs(sside) == SERVER_PASSIVE, pairs(sside)
    assert_owner(sside, srv)
    within(sside[3]["mono_ns"], shut, "CLOSE_WAIT -> LAST_ACK at shutdown()")
    assert sside[4]["mono_ns"] >= undrop, sside[4]
    assert sside[4]["prev_ns"] == sside[4]["mono_ns"] - sside[3]["mono_ns"], sside[4]
    slife = sc.life(sport, cport)
    assert states(slife) == ["SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK"]
    assert slife["close"] == "passive"
    assert_complete(slife)


def test_http_server_shutdown_then_close(tracer, netns):
    """python3 -m http.server answers curl with shutdown(SHUT_WR), then
    close(): no X -> X in trace or life, and stats counts one FIN_WAIT1 (or
    FIN_WAIT2) per connection."""
    ns = netns()
    sport, _ = two_ports()
    tr = tracer("--lport", str(sport), "--netns", str(ns.inode))
    lf = tracer("--lport", str(sport), "--netns", str(ns.inode), cmd="life")
    stt = tracer("--lport", str(sport), "--netns", str(ns.inode), cmd="stats")
    srv = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-m", "http.server",
                            "--bind", "127.0.0.1", str(sport)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           cwd=os.path.dirname(os.path.abspath(__file__)))
    try:
        wait_for(lambda: f":{sport} " in ns.ss("-tlnH"), what="http.server listening")
        for _ in range(3):
            ns.exec("curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{sport}/")
        # the server closed first: its ends wait in TIME_WAIT; end them now
        wait_for(lambda: ns.ss("-tanH", "state", "time-wait", f"sport = :{sport}")
                 .count("\n") >= 3, what="3 server TIME_WAITs")
        ns.exec("ss", "-K", "state", "time-wait", f"sport = :{sport}")
        lf.wait(lambda rs: len([r for r in rs if r.get("type") == "life"]) >= 3,
                what="3 server-side lifecycles")
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=10)
    trans = [r for r in tr.stop() if r.get("type") == "transition"]
    lives = [r for r in lf.stop() if r.get("type") == "life"]
    stats = [r for r in stt.stop() if r.get("type") == "stats"]
    for t in (tr, lf, stt):
        t.assert_nothing_lost()
    assert len(lives) == 3, lives
    for t in trans:
        assert t["oldstate"] != t["newstate"], t
    for l in lives:
        st = states(l)
        assert all(a != b for a, b in zip(st, st[1:])), l
        assert st[:3] == ["SYN_RECV", "ESTABLISHED", "FIN_WAIT1"], l
        assert l["close"] == "active", l
    fw1 = [s for s in stats if s["state"] == "FIN_WAIT1"]
    assert len(fw1) == 1 and fw1[0]["hist"]["count"] == 3, fw1
