"""Root scenarios for teardown details: a state set again by close(), the
close kind after an RST, what is still open at exit, dual-stack sockets.

As in test_scenarios.py: namespaces of the test's own, peers that own the
sockets, nftables for chosen segments, the test's own CLOCK_MONOTONIC
(time.monotonic_ns(), the clock of the tracer's -T mono) around each
system call it times.
"""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN, jsonl, run, wait_for
from test_scenarios import (CLIENT_ACTIVE, SERVER_PASSIVE, MS, Scenario,
                            assert_complete, assert_owner, close_client_first,
                            end_time_wait, handshake, pairs, states, two_ports,
                            veth, wait_state)  # noqa: F401


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
    # the retransmitted FIN acknowledged before the client's TIME_WAIT ends
    # (a killed TIME_WAIT would answer it with RST)
    wait_for(lambda: f":{sport} " not in veth.b.ss("-tanH", "sport", f"= :{sport}"),
             what="the server's LAST_ACK to end")
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
    close(): the close() sets FIN_WAIT1, FIN_WAIT2 or LAST_ACK again (as
    curl's FIN came before or after). No X -> X in trace or life, and stats
    counts each state once per connection that went through it."""
    ns = netns()
    sport, _ = two_ports()
    both = f"( sport = :{sport} or dport = :{sport} )"
    args = ("--lport", str(sport), "--netns", str(ns.inode))
    tr, lf, stt = tracer(*args), tracer(*args, cmd="life"), tracer(*args, cmd="stats")
    srv = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-m", "http.server",
                            "--bind", "127.0.0.1", str(sport)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           cwd=os.path.dirname(os.path.abspath(__file__)))
    try:
        wait_for(lambda: f":{sport} " in ns.ss("-tlnH"), what="http.server listening")
        for _ in range(3):
            ns.exec("curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{sport}/")
        # every end closed or in TIME_WAIT (either side's): end those now
        wait_for(lambda: all(l.split()[0] in ("LISTEN", "TIME-WAIT")
                             for l in ns.ss("-tanH", both).splitlines()),
                 what="the connections to close")
        ns.exec("ss", "-K", "state", "time-wait", both)
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
        assert st[:2] == ["SYN_RECV", "ESTABLISHED"], l
        assert l["close"] in ("active", "passive", "simultaneous"), repr((l, [(t["oldstate"], t["newstate"], t["task"]) for t in trans if t["cookie"] == l["cookie"]]))
        assert_complete(l)
    counts = {s["state"]: s["hist"]["count"] for s in stats}
    for state in {s for l in lives for s in states(l)}:
        assert counts.get(state) == sum(state in states(l) for l in lives), (state, counts)


# ---- the close kind after an RST ----

def reject(ns, table, sport):
    """nftables in ns answers every segment from port sport with an RST (a
    forged reset whose sequence number is the one the sender expects)."""
    ns.nft(f"table inet {table} {{\n  chain c {{\n"
           f"    type filter hook input priority 0; policy accept;\n"
           f"    tcp sport {sport} reject with tcp reset\n  }}\n}}\n")


def rst_fin_wait1(veth, srv, cli, sport, cport):
    """The client's FIN held back, then answered by a forged RST."""
    veth.a.drop("fin", "output", f"tcp sport {cport} tcp flags & fin == fin")
    cli.do("shutdown C")
    wait_state(veth.a, cport, "fin-wait-1", "the client's FIN_WAIT1")
    reject(veth.b, "rst", cport)
    t0 = time.monotonic_ns()
    veth.a.undrop("fin")      # the FIN's retransmission meets the RST
    wait_for(lambda: f":{cport} " not in veth.a.ss("-tanH", "sport", f"= :{cport}"),
             what="the client's reset")
    span = (t0, time.monotonic_ns())
    veth.b.undrop("rst")
    srv.do("rst S")
    return "client", "FIN_WAIT1", "active", span


def rst_fin_wait2(veth, srv, cli, sport, cport):
    """shutdown() (FIN_WAIT2, the application's), then the server's
    SO_LINGER 0 close() in CLOSE_WAIT sends an RST."""
    cli.do("shutdown C")
    wait_state(veth.a, cport, "fin-wait-2", "the client's FIN_WAIT2")
    t0, t1 = timed(srv, "rst S")
    wait_for(lambda: f":{cport} " not in veth.a.ss("-tanH", "sport", f"= :{cport}"),
             what="the client's reset")
    return "client", "FIN_WAIT2", "active", (t0, time.monotonic_ns())


def linger0_fin_wait2(veth, srv, cli, sport, cport):
    """shutdown(), FIN_WAIT2, then the client's own SO_LINGER 0 close()."""
    cli.do("shutdown C")
    wait_state(veth.a, cport, "fin-wait-2", "the client's FIN_WAIT2")
    span = timed(cli, "rst C")
    srv.do("close S")
    return "client", "FIN_WAIT2", "active", span


def rst_closing(veth, srv, cli, sport, cport):
    """The client's FIN held back while the server's arrives (CLOSING),
    then the client's retransmitted FIN is answered by a forged RST."""
    veth.a.drop("fin", "output", f"tcp sport {cport} tcp flags & fin == fin")
    cli.do("shutdown C")
    srv.do("shutdown S")
    wait_state(veth.a, cport, "closing", "the client's CLOSING")
    # the client's ACK of the server's FIN through first, or it meets the RST
    wait_state(veth.b, sport, "fin-wait-2", "the server's FIN_WAIT2")
    reject(veth.b, "rst", cport)
    t0 = time.monotonic_ns()
    veth.a.undrop("fin")
    wait_for(lambda: f":{cport} " not in veth.a.ss("-tanH", "sport", f"= :{cport}"),
             what="the client's reset")
    span = (t0, time.monotonic_ns())
    veth.b.undrop("rst")
    srv.do("close S")
    kill_minisock(veth.b, sport, "fin-wait-2")
    return "client", "CLOSING", "simultaneous", span


def rst_close_wait(veth, srv, cli, sport, cport):
    """The client closed (an orphaned FIN_WAIT2 minisocket); the server's
    data after the client's FIN is answered by RST."""
    cli.do("close C")
    srv.do("eof S")
    t0, t1 = timed(srv, "send S late")
    wait_for(lambda: f":{sport} " not in veth.b.ss("-tanH", "sport", f"= :{sport}",
                                                   "dport", f"= :{cport}"),
             what="the server's reset")
    srv.do("close S")
    return "server", "CLOSE_WAIT", "passive", (t0, time.monotonic_ns())


def rst_last_ack(veth, srv, cli, sport, cport):
    """The client closed; the server's FIN (LAST_ACK) is answered by a
    forged RST."""
    cli.do("close C")
    srv.do("eof S")
    # the server's ACK of the FIN through first, or it meets the RST
    wait_state(veth.a, cport, "fin-wait-2", "the client's FIN_WAIT2")
    reject(veth.a, "rst", sport)
    t0, _ = timed(srv, "close S")
    wait_for(lambda: f":{sport} " not in veth.b.ss("-tanH", "sport", f"= :{sport}",
                                                   "dport", f"= :{cport}"),
             what="the server's reset")
    span = (t0, time.monotonic_ns())
    veth.a.undrop("rst")
    kill_minisock(veth.a, cport, "fin-wait-2")
    return "server", "LAST_ACK", "passive", span


def linger0_last_ack(veth, srv, cli, sport, cport):
    """The client closed; the server's shutdown() (LAST_ACK) unanswered
    (the client's ACK dropped), then its SO_LINGER 0 close()."""
    cli.do("close C")
    srv.do("eof S")
    veth.b.drop("ack", "input", f"tcp sport {cport}")
    srv.do("shutdown S")
    wait_state(veth.b, sport, "last-ack", "the server's LAST_ACK")
    span = timed(srv, "rst S")
    veth.b.undrop("ack")
    kill_minisock(veth.a, cport, "time-wait")
    return "server", "LAST_ACK", "passive", span


def kill_minisock(ns, port, state):
    wait_state(ns, port, state, f"{state} on {port}")
    ns.exec("ss", "-K", "state", state, f"sport = :{port}")


@pytest.mark.parametrize("case", [rst_fin_wait1, rst_fin_wait2, linger0_fin_wait2,
                                  rst_closing, rst_close_wait, rst_last_ack,
                                  linger0_last_ack], ids=lambda f: f.__name__)
def test_reset_while_closing(tracer, veth, peers, case):
    """An RST (received, forged by nftables, or sent by SO_LINGER 0) in
    each closing state: the close kind is reset, "closing" says who had
    sent the first FIN, the path ends STATE -> CLOSE when the RST came."""
    sport, cport = two_ports()
    sc = Scenario(tracer, (veth.a, veth.b), sport, cport)
    srv, cli = peers(veth.b, "srv"), peers(veth.a, "cli")
    handshake(srv, cli, veth.addr4[1], sport, cport)
    who, state, closing, span = case(veth, srv, cli, sport, cport)
    srv.do("close L")
    sc.wait_lives(2)
    sc.stop()

    me, peer, owner = (cport, sport, cli) if who == "client" else (sport, cport, srv)
    side = sc.side(me, peer)
    assert side[-1]["oldstate"] == state and side[-1]["newstate"] == "CLOSE", pairs(side)
    assert side[-1].get("end") is None, side[-1]
    within(side[-1]["mono_ns"], (span[0], span[1] + 10 * MS), "the RST's arrival")
    assert_owner(side, owner)
    life = sc.life(me, peer)
    assert (life["close"], life.get("closing")) == ("reset", closing), life
    assert states(life)[-1] == state, life
    assert_complete(life)


# ---- what is still open at exit ----

def test_life_reports_what_is_open_at_exit(tracer, veth, peers):
    """One connection closed by the client first (its end in TIME_WAIT when
    tracing stops), one still ESTABLISHED (its server end traced): life prints, at exit, one record
    per open end, marked at_exit, whose last state's time is the time so far
    (a lower bound, between what the test timed around the state's start
    and around the tracer's stop); the summary of life and stats counts them."""
    sport, cport = two_ports()
    sc = Scenario(tracer, (veth.a, veth.b), sport, cport)
    st = tracer("--lport", f"{sport},{cport}", cmd="stats")
    srv, cli = peers(veth.b, "srv"), peers(veth.a, "cli")
    srv.do(f"listen L {veth.addr4[1]} {sport}")
    cli.do(f"connect C {veth.addr4[1]} {sport} {cport}")
    srv.do("accept L S")
    cli.do("close C")
    srv.do("eof S")
    fin = timed(srv, "close S")                 # the client's TIME_WAIT begins
    wait_state(veth.a, cport, "time-wait", "the client's TIME_WAIT")
    # another connection, open at exit: its server end is on the traced port
    est = timed(cli, f"connect D {veth.addr4[1]} {sport}")
    srv.do("accept L T")
    sc.wait_lives(1)
    stop0 = time.monotonic_ns()
    sc.stop()
    st.stop()
    stop1 = time.monotonic_ns()

    # the server's end of the first connection ended; the rest is open
    assert [l["at_exit"] for l in sc.lives if l["dport"] == cport] == [False]
    open_ = [l for l in sc.lives if l["at_exit"]]
    assert len(open_) == 2, sc.lives
    tw = sc.life(cport, sport)
    assert tw["at_exit"] is True and tw["close"] is None and tw["closing"] == "active", tw
    assert states(tw) == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"]
    last = tw["path"][-1]
    assert last["lower_bound"] is True, tw
    assert stop0 - fin[1] <= last["ns"] <= stop1 - fin[0], (last, fin, stop0, stop1)
    assert "end" not in tw and tw["incomplete"] is False, tw
    for l in open_:
        if l is tw:
            continue
        assert states(l)[-1] == "ESTABLISHED" and l["path"][-1]["lower_bound"] is True, l
        assert l["close"] is None and l["closing"] is None, l
        assert stop0 - est[1] <= l["path"][-1]["ns"] <= stop1 - est[0], (l, est)
    for t in (sc.lf, st, sc.tr):
        assert ", 2 open at exit" in t.summary(), t.summary()


# ---- dual-stack sockets: one family rule everywhere ----

def snap(ns, *args):
    p = run("snapshot", "--json", "-N", f"/run/netns/{ns.name}", *args, check=True)
    return jsonl(p.stdout)


def test_dual_stack_listener_with_ipv4_clients(tracer, netns, peers, tmp_path):
    """A listener on [::] (IPV6_V6ONLY off, as nginx, Java and Go servers
    make them) accepts an IPv4 client: its child speaks IPv4 (IPv4-mapped
    addresses), the listener is IPv6. -4 and -6 mean that in every command:
    trace and life -4 show the child with its listener's owner (the kernel
    filter passes the listener's records: the owner comes from them),
    snapshot -4 shows the child and not the listener, -6 the listener and
    not the child, and a replay of the -4 recording shows what the live run
    did."""
    ns = netns()
    sport, cport = two_ports()
    rec = tmp_path / "v4.rec"
    sc = Scenario(tracer, (ns,), sport, cport, extra=("-4",))
    rtr = tracer("-4", "--lport", str(sport), "--record", str(rec))
    srv, cli = peers(ns, "srv"), peers(ns, "cli")
    srv.do(f"listen L :: {sport}")
    cli.do(f"connect C 127.0.0.1 {sport} {cport}")
    srv.do("accept L S")

    v4 = [(s["state"], s["lport"], s["family"]) for s in snap(ns, "-4", "--lport", str(sport))]
    v6 = [(s["state"], s["lport"], s["family"]) for s in snap(ns, "-6", "--lport", str(sport))]
    assert v4 == [("ESTABLISHED", sport, "ipv4")], v4
    assert v6 == [("LISTEN", sport, "ipv6")], v6
    both = {(s["state"], s["family"], s.get("v4mapped", False))
            for s in snap(ns, "--lport", str(sport))}
    assert both == {("ESTABLISHED", "ipv4", True), ("LISTEN", "ipv6", False)}, both

    close_client_first(srv, cli)
    srv.do("close L")
    end_time_wait(ns, cport, "the client's TIME_WAIT")
    sc.wait_lives(2)
    rtr.wait(lambda rs: any(r.get("newstate") == "CLOSE" and r["sport"] == sport for r in rs),
             what="the recording tracer to see the child's end")
    live = [r for r in rtr.stop() if r.get("type") == "transition"]
    sc.stop()

    sside = sc.side(sport, cport)
    assert pairs(sside) == SERVER_PASSIVE, pairs(sside)
    assert_owner(sside, srv)
    assert all(t["family"] == "ipv4" and t["saddr"] == "127.0.0.1" for t in sside), sside
    # the listener itself is IPv6: not shown with -4
    assert not [t for t in sc.trans if "LISTEN" in (t["oldstate"], t["newstate"])
                and t["cookie"] != 0], sc.trans
    slife = sc.life(sport, cport)
    assert (slife["pid"], slife["comm"], slife["family"]) == (srv.pid, srv.comm, "ipv4")
    assert_complete(slife)
    cside = sc.side(cport, sport)
    assert pairs(cside) == CLIENT_ACTIVE, pairs(cside)
    assert_owner(cside, cli)

    # the recording replays as the live run showed it, owners included
    p = run("trace", "--replay", str(rec), "--json", "-T", "mono", "-4", "--lport", str(sport))
    replayed = jsonl(p.stdout)
    key = lambda r: (r["cookie"], r["oldstate"], r["newstate"], r["pid"], r["family"])
    assert [key(r) for r in replayed] == [key(r) for r in live], (replayed, live)
    assert [r["pid"] for r in replayed if r["dport"] == cport] == [srv.pid] * 5, replayed
    # the recording holds the listener's records (its children's owner came
    # from them), but replays apply the recorded -4 on top of their own
    # options, as the live run did: -6 selects nothing of a -4 recording
    p = run("trace", "--replay", str(rec), "--json", "-6")
    assert p.returncode == 0, p.stderr
    assert jsonl(p.stdout) == [], p.stdout


# ---- records the kernel skipped: taken over, or counted as lost ----

def fdinfo_ids(pid, key):
    """The ids (prog_id, map_id) of the BPF objects process pid holds."""
    ids = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        ids.append(int(line.split()[1]))
        except OSError:
            pass
    return ids


def skipped_runs(pid):
    """Runs of pid's handle_set_state the kernel skipped (bpftool's
    recursion_misses: the program interrupted on its CPU by its own
    tracepoint, as when a softirq changes a socket's state while it runs
    for a task's connect() or close())."""
    ids = set(fdinfo_ids(pid, "prog_id"))
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True,
                         text=True, check=True).stdout
    return sum(p.get("recursion_misses", 0) for p in json.loads(out)
               if p["id"] in ids and p.get("name") == "handle_set_state")


def taken_over(pid):
    """What the program's second copy recorded of those (nested_runs in its
    .bss, read by bpftool; 0 for a build without it)."""
    for mid in fdinfo_ids(pid, "map_id"):
        out = subprocess.run(["bpftool", "map", "dump", "id", str(mid), "--json"],
                             capture_output=True, text=True).stdout
        if '"nested_runs"' not in out:
            continue
        for var in json.loads(out)[0]["formatted"]["value"][".bss"]:
            if "nested_runs" in var:
                return var["nested_runs"]
    return 0


def test_runs_the_kernel_skipped_are_not_lost_silently(tracer, netns):
    """Under load the kernel skips some runs of handle_set_state (about 1
    in 5,000 here): those state changes never reached the ring buffer, and
    the summary said nothing. Each must be recorded by the second program or
    counted in the summary: counted >= skipped - taken over."""
    ns = netns()
    t = tracer(cmd="stats")
    loadgen = os.path.join(os.path.dirname(os.path.abspath(BIN)), "tools", "loadgen")
    deadline = time.monotonic() + 40
    while not skipped_runs(t.proc.pid):
        if time.monotonic() > deadline:
            pytest.skip("the kernel skipped no run in 40 s of load: nothing to check")
        # short, one-client bursts: other tests' tracers run meanwhile
        ns.exec(loadgen, "-d", "1", "-t", "1", "-s", "20")
    skipped, taken = skipped_runs(t.proc.pid), taken_over(t.proc.pid)
    t.stop()
    assert t.returncode == 0, t.stderr()
    m = re.search(r"(\d+) state changes and \d+ timer events skipped by the kernel",
                  t.summary())
    counted = int(m.group(1)) if m else 0
    assert (m or skipped == taken) and counted >= skipped - taken, (skipped, taken, t.summary())
    assert taken or skipped == counted, (skipped, taken, t.summary())
