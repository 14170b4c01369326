"""Root scenarios for what the timers alone cannot show: the FIN that turns
an orphaned FIN_WAIT2 minisocket into TIME_WAIT (seen at skb:kfree_skb),
TIME_WAIT taken over by connect() (the kernel's own TcpExtTWRecycled), and
TCP Fast Open children (born at the SYN, with no request timer).

Each test has namespaces of its own, and its tracers filter on them
(--netns, judged in the kernel), so other traffic on the host cannot
disturb it. Times are checked against the test's own CLOCK_MONOTONIC
readings around the system calls that cause them (peer.py's *ts commands);
the tracers print CLOCK_MONOTONIC too (-T mono).
"""
import collections
import os
import subprocess
import time

import pytest

from conftest import wait_for
from netns import Veth

MS = 1_000_000
S = 1_000_000_000
LOADGEN = os.path.join(os.environ.get("TCPFSM_TOOLS", os.path.join(
    os.path.dirname(__file__), "../../build/tools")), "loadgen")

# Every timer-wheel case at HZ=250: the re-armed TIME_WAIT timer stays in
# its bucket for the short gaps (no timer tracepoint at all), moves for the
# long ones.
GAPS = (0.005, 0.05, 0.5, 1.5, 3.0)
STUCK_FW2 = 1 * S
# records reach the output within the reader's poll (100 ms), the reorder
# buffer's hold (10 ms) and a busy 2-core machine's scheduling
LIVE = 1.0


@pytest.fixture
def veth():
    v = Veth()
    yield v
    v.delete()


def transitions(tr, netns):
    return [r for r in tr.records() if r.get("type") == "transition" and r["netns"] == netns]


def fin_time_wait(trs, cport):
    return [t for t in trs if t["sport"] == cport and t["oldstate"] == "FIN_WAIT2"
            and t["newstate"] == "TIME_WAIT"]


def test_fin_into_orphan_fin_wait2_is_live(tracer, netns, peers):
    """The client closes first; each server closes after its gap. Its FIN
    turns the client's orphaned FIN_WAIT2 minisocket TIME_WAIT: the
    transition is stamped at the FIN and printed live, FIN_WAIT2 lasts until
    it, and --stuck FIN_WAIT2 alerts only while the client really is in
    FIN_WAIT2. Two tracers follow the same traffic: one as this kernel
    allows (rx_sk, 6.11+), one keyed by 4-tuple alone, as before 6.11.
    """
    ns = netns()
    args = ("--netns", str(ns.inode), "--stuck", "FIN_WAIT2=1s")
    tracers = {"rx_sk": tracer(*args),
               "tuple": tracer(*args, env={"TCPFSM_TEST_NO_RX_SK": "1"})}
    srvs = [peers(ns, f"srv{i}") for i in range(len(GAPS))]
    cli = peers(ns, "cli")
    conns = []
    for i, srv in enumerate(srvs):
        sport = int(srv.do("listen L 127.0.0.1 0"))
        cport = int(cli.do(f"connect C{i} 127.0.0.1 {sport}"))
        srv.do("accept L S")
        conns.append({"gap": GAPS[i], "sport": sport, "cport": cport})
    # every client closes now; every server answers its FIN after its gap
    for i, c in enumerate(conns):
        c["cli_close"] = tuple(map(int, cli.do(f"closets C{i}").split()))
        srvs[i].send(f"eofclosets S {GAPS[i]}")
    for i, c in enumerate(conns):  # in order of the gaps: each reply comes later
        c["srv_close"] = tuple(map(int, srvs[i].reply().split()[1:]))
        t1 = c["srv_close"][1]
        for name, tr in tracers.items():
            # live: within LIVE of the server's close, not a minute later
            tr.wait(lambda rs: fin_time_wait(
                [r for r in rs if r.get("type") == "transition" and r["netns"] == ns.inode],
                c["cport"]), timeout=LIVE, what=f"{name}: FIN_WAIT2 -> TIME_WAIT, gap {c['gap']}")
        assert (time.monotonic_ns() - t1) / S < LIVE + 0.2
    for name, tr in tracers.items():
        recs = tr.stop()
        tr.assert_nothing_lost()
        trs = transitions(tr, ns.inode)
        stuck = [r for r in recs if r.get("type") == "stuck" and r["netns"] == ns.inode]
        for c in conns:
            what = (name, c["gap"])
            mine = sorted((t for t in trs if t["sport"] == c["cport"]), key=lambda t: t["mono_ns"])
            assert [(t["oldstate"], t["newstate"]) for t in mine] == [
                ("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
                ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"),
                ("FIN_WAIT2", "TIME_WAIT")], (what, mine)
            fw1, fw2, tw = mine[2], mine[3], mine[4]
            assert tw["source"] == "timewait" and not tw.get("inferred"), (what, tw)
            assert tw["orphan"] is True and tw["orphan_ns"] == tw["prev_ns"], (what, tw)
            # FIN_WAIT1 began at the client's close(), TIME_WAIT at the server's
            c0, c1 = c["cli_close"]
            s0, s1 = c["srv_close"]
            assert c0 <= fw1["mono_ns"] <= c1, (what, fw1, c["cli_close"])
            assert s0 <= tw["mono_ns"] <= s1 + 5 * MS, (what, tw, c["srv_close"])
            # so FIN_WAIT2 lasted until the FIN, to the ns of the records
            assert fw2["mono_ns"] + tw["prev_ns"] == tw["mono_ns"], what
            assert fw1["mono_ns"] + fw2["prev_ns"] == fw2["mono_ns"], what
            held = tw["mono_ns"] - fw1["mono_ns"]
            assert s0 - c1 <= held <= s1 + 5 * MS - c0, (what, held)
            # alerts only while it was in FIN_WAIT2 for longer than the threshold
            mine_stuck = [r for r in stuck if r["sport"] == c["cport"]]
            for r in mine_stuck:
                assert r["state"] == "FIN_WAIT2" and r["orphan"] is True, (what, r)
                assert r["ts"] <= tw["mono_ns"], (what, "alert after the FIN", r, tw)
                assert STUCK_FW2 <= r["in_state_ns"] <= tw["prev_ns"], (what, r)
            if c["gap"] * S < STUCK_FW2:
                assert not mine_stuck, (what, mine_stuck)
            if c["gap"] * S >= 2 * STUCK_FW2 + S:  # at least one scan fell inside
                assert mine_stuck, (what, stuck)
        # nothing else was alerted: the servers' sockets never were in FIN_WAIT2
        assert {r["sport"] for r in stuck} <= {c["cport"] for c in conns}, (name, stuck)


def nstat(ns, name):
    out = ns.exec("nstat", "-az", name)
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == name:
            return int(f[1])
    raise AssertionError(f"{name} not in nstat's output: {out!r}")


def test_time_wait_reuse_counted_as_the_kernel_does(tracer, netns):
    """Loopback churn in a fresh namespace with tcp_tw_reuse on and 1000
    local ports, so that connect() keeps taking over TIME_WAIT: the
    connections that end "reused" are exactly those the kernel counts
    (TcpExtTWRecycled), and none is both."""
    ns = netns()
    ns.sysctl(tcp_tw_reuse=1, ip_local_port_range="40000 40999")
    ns.exec("sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse_delay=1", check=False)  # 6.13+
    lf = tracer("--netns", str(ns.inode), cmd="life")
    before = nstat(ns, "TcpExtTWRecycled")
    # before 6.13 (no tcp_tw_reuse_delay) a TIME_WAIT is reused once its
    # timestamp is a second old: connects find no free port meanwhile
    # (EADDRNOTAVAIL, counted by loadgen), which changes nothing here
    out = ns.exec(LOADGEN, "-n", "3000", "-k", "1", "-t", "2", "-d", "20")
    assert "connections=3000 " in out, out
    recycled = nstat(ns, "TcpExtTWRecycled") - before
    assert recycled > 0, "no TIME_WAIT was reused: the test proves nothing"
    # every reuse ends a connection at once: wait for as many as the kernel
    # counted (on a timeout, the comparison below says what came instead)
    try:
        lf.wait(lambda rs: sum(1 for r in rs if r.get("end") == "reused") >= recycled,
                timeout=10, what=f"{recycled} reused ends")
    except AssertionError:
        pass
    lives = [r for r in lf.stop() if r.get("type") == "life" and r["netns"] == ns.inode]
    ends = collections.Counter(str(l.get("end")) for l in lives)
    lf.assert_nothing_lost()
    reused = [l for l in lives if l.get("end") == "reused"]
    assert len(reused) == recycled, (len(reused), recycled, dict(ends), lf.summary())
    for l in reused:
        assert l["path"][-1]["state"] == "TIME_WAIT" and l["open"] == "active", l


def peer_in(ns, state, port):
    """ss in ns shows a socket in state whose remote port is port."""
    return any(line.split()[-1].endswith(f":{port}")
               for line in ns.ss("-tanH", "state", state).splitlines() if line.strip())


def test_fast_open_children(tracer, veth, peers):
    """TCP Fast Open (the SYN carries data, the child is made at the SYN):
    the child's SYN_RECV starts at the SYN and it has its listener's owner,
    whether the handshake completes or the listener closes first (the
    client's ACKs dropped: the child is reset in SYN_RECV, never accepted).
    """
    a, b = veth.a, veth.b
    # 0x207: client and server on, no cookie needed either way
    for ns in (a, b):
        ns.sysctl(tcp_fastopen=0x207)
    srv, cli = peers(b, "srv"), peers(a, "cli")
    saddr = veth.addr4[1]
    tr = tracer("--netns", str(b.inode))
    lf = tracer("--netns", str(b.inode), cmd="life")
    sport = int(srv.do(f"tfolisten L {saddr} 0"))

    # completed: the final ACK makes it ESTABLISHED
    cport1, s0, s1 = map(int, cli.do(f"tfoconnect C1 {saddr} {sport} hello").split())
    srv.do("accept L S1")
    assert srv.do("recv S1 5") == "hello"
    # reset in SYN_RECV: the client's ACKs never arrive; the listener closes
    a.drop("noack", "output", f"tcp dport {sport} tcp flags & ack == ack")
    cport2, t0, t1 = map(int, cli.do(f"tfoconnect C2 {saddr} {sport} again").split())
    wait_for(lambda: peer_in(b, "syn-recv", cport2), what="the second child in SYN_RECV")
    srv.do("close L")
    wait_for(lambda: not peer_in(b, "syn-recv", cport2), what="the second child's reset")
    srv.do("close S1")
    lf.wait(lambda rs: any(r.get("type") == "life" and r["dport"] == cport2 for r in rs),
            what="the reset child's life")
    trs = [t for t in tr.stop() if t.get("type") == "transition" and t["sport"] == sport]
    lives = [l for l in lf.stop() if l.get("type") == "life" and l["sport"] == sport]
    tr.assert_nothing_lost()
    lf.assert_nothing_lost()

    for cport, (c0, c1), rest in ((cport1, (s0, s1), [("SYN_RECV", "ESTABLISHED")]),
                                  (cport2, (t0, t1), [("SYN_RECV", "CLOSE")])):
        side = sorted((t for t in trs if t["dport"] == cport), key=lambda t: t["mono_ns"])
        pairs = [(t["oldstate"], t["newstate"]) for t in side]
        assert pairs[:1 + len(rest)] == [("LISTEN", "SYN_RECV")] + rest, (cport, side)
        birth = side[0]
        assert birth["source"] == "request" and c0 <= birth["mono_ns"] <= c1, (birth, c0, c1)
        assert side[1]["prev_ns"] == side[1]["mono_ns"] - birth["mono_ns"], side[1]
        for t in side:
            assert (t["pid"], t["comm"]) == (srv.pid, srv.comm), t
    done = [l for l in lives if l["dport"] == cport2]
    assert len(done) == 1, lives
    life = done[0]
    assert life["open"] == "passive" and (life["pid"], life["comm"]) == (srv.pid, srv.comm), life
    assert [p["state"] for p in life["path"]] == ["SYN_RECV"], life
    assert life["path"][0]["ns"] is not None and life["path"][0]["ns"] > 0, life
    assert life["incomplete"] is False, life


@pytest.mark.parametrize("family", ["ipv4", "ipv6", "v4mapped"])
def test_fin_into_orphan_seeded_at_start(tracer, netns, peers, family):
    """An orphaned FIN_WAIT2 minisocket that existed before tracing began
    (read by seeding) is watched for its FIN too: FIN_WAIT2 -> TIME_WAIT
    at the server's close(), live, with both tracers (rx_sk, and 4-tuple
    alone: there the kernel side cannot read its substate and trusts the
    FIN). v4mapped: both ends IPv6 sockets speaking IPv4 (a dual-stack
    listener on [::]): the minisocket is IPv6, the FIN comes through
    tcp_v4_rcv."""
    ns = netns()
    laddr, caddr = {"ipv4": ("127.0.0.1",) * 2, "ipv6": ("::1",) * 2,
                    "v4mapped": ("::", "::ffff:127.0.0.1")}[family]
    srv, cli = peers(ns, "srv"), peers(ns, "cli")
    sport = int(srv.do(f"listen L {laddr} {0}"))
    cport = int(cli.do(f"connect C {caddr} {sport}"))
    srv.do("accept L S")
    cli.do("close C")
    srv.do("eof S")
    wait_for(lambda: ns.ss("-tanH", "state", "fin-wait-2", f"sport = :{cport}").strip(),
             what="the client's orphaned FIN_WAIT2")
    args = ("--netns", str(ns.inode))
    tracers = {"rx_sk": tracer(*args),
               "tuple": tracer(*args, env={"TCPFSM_TEST_NO_RX_SK": "1"})}
    s0, s1 = map(int, srv.do("closets S").split())
    for name, tr in tracers.items():
        tr.wait(lambda rs: fin_time_wait(
            [r for r in rs if r.get("type") == "transition" and r["netns"] == ns.inode], cport),
            timeout=LIVE, what=f"{name}: the seeded orphan's FIN_WAIT2 -> TIME_WAIT")
    for name, tr in tracers.items():
        tr.stop()
        tr.assert_nothing_lost()
        tw, = fin_time_wait(transitions(tr, ns.inode), cport)
        assert tw["source"] == "timewait" and not tw.get("inferred"), (name, tw)
        assert s0 <= tw["mono_ns"] <= s1 + 5 * MS, (name, tw, s0, s1)
        assert tw.get("orphan") is True, (name, tw)
