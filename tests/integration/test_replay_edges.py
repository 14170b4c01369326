"""Replays of small recordings written here, record by record (see
src/core/record.h for the layout): edges the real-traffic fixture does not have.
No root needed."""
import json
import os
import socket
import sys

from conftest import jsonl, run, stuck_lines

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tools"))
from recfmt import (REC, header, STATE, REQ_START, REQ_CANCEL, LOST,  # noqa: E402
                    ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, CLOSE,
                    CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING)  # the format, shared

S = 1_000_000_000
MS = 1_000_000
LO = socket.inet_aton("127.0.0.1") + bytes(12)


def record(ts, cookie, kind, old, new, sport, dport, aux=0):
    """A record of a loopback IPv4 socket owned by "test" (pid 100)."""
    return REC.pack(ts, cookie, 1, aux, 0, 100, 100, 4026531840, sport, dport,
                    kind, old, new, 2, 2, 0, LO, LO, b"test" + bytes(12))


def state(ts, cookie, old, new, sport):
    """A state change of a connection to port 80."""
    return record(ts, cookie, STATE, old, new, sport, 80)


def test_stuck_at_end_of_replay_is_reported_once(tmp_path):
    """A connection still stuck when the recording ends: its '(at exit)'
    alert is the last word, not followed by the same alert again."""
    path = tmp_path / "stuck.bin"
    path.write_bytes(header()
                     + state(1 * S, 1, CLOSE, SYN_SENT, 5000)
                     + state(1 * S + 1000, 1, SYN_SENT, ESTABLISHED, 5000)
                     # later traffic moves the replay's clock past 1.5 s
                     + state(2 * S + 5_000_000, 2, CLOSE, SYN_SENT, 5001)
                     + state(3 * S, 3, CLOSE, SYN_SENT, 5002))
    p = run("trace", "--replay", str(path), "--stuck", "ESTABLISHED=1500ms",
            "-T", "mono")
    assert p.returncode == 0, p.stderr
    stuck = stuck_lines(p.stdout)
    assert stuck and all("cookie 1 " in l for l in stuck), stuck
    # each alert carries the time it fired: past 1 s + 1.5 s in the state,
    # by the replay's clock, which the last record ends at 3 s
    when = [float(l.split()[0]) for l in p.stdout.splitlines() if " STUCK " in l]
    assert len(when) == len(stuck) and all(2.5 <= t <= 3.0 for t in when), when
    assert stuck[-1].startswith("STUCK (at exit) ESTABLISHED"), stuck
    assert sum("(at exit)" in l for l in stuck) == 1, stuck


def test_record_to_stdout_is_refused():
    """The recording would interleave with the text lines on stdout."""
    p = run("trace", "--record", "-")
    assert p.returncode == 2 and p.stdout == ""
    assert "--record" in p.stderr.splitlines()[0]


def test_life_long_path_folds_with_exact_times(tmp_path):
    """A path longer than the 8 entries a connection keeps: the middle is
    one '...' entry with its own time and how many states it held, so the
    first state keeps its real duration (it used to absorb the middle's)."""
    states = [SYN_SENT, ESTABLISHED, CLOSING, ESTABLISHED, FIN_WAIT2, ESTABLISHED,
              FIN_WAIT1, ESTABLISHED, CLOSE_WAIT, ESTABLISHED, LAST_ACK]
    at, recs, prev = 1 * S, b"", CLOSE
    for i, s in enumerate(states + [CLOSE]):
        recs += state(at, 1, prev, s, 5000)
        prev, at = s, at + (i + 1) * MS  # state i lasts i + 1 ms
    path = tmp_path / "long.bin"
    path.write_bytes(header() + recs)

    p = run("life", "--replay", str(path))
    assert p.returncode == 0, p.stderr
    line = p.stdout.splitlines()[1]
    assert line.endswith("SYN_SENT 1.000 > ... 14.000 (4 states) > ESTABLISHED 6.000"
                         " > FIN_WAIT1 7.000 > ESTABLISHED 8.000 > CLOSE_WAIT 9.000"
                         " > ESTABLISHED 10.000 > LAST_ACK 11.000"), line
    assert " simultaneous " in line  # CLOSING was folded, not forgotten

    [o] = jsonl(run("life", "--replay", str(path), "--json").stdout)
    assert o["folded"] == 4
    assert o["path"][0] == {"state": "SYN_SENT", "ns": 1 * MS}
    assert o["path"][1] == {"state": "...", "ns": 14 * MS, "folded": 4}
    assert [e["ns"] for e in o["path"][2:]] == [n * MS for n in range(6, 12)]
    assert sum(e["ns"] for e in o["path"]) == o["lifetime_ns"]

    # --state finds a state that only the folded middle went through
    p = run("life", "--replay", str(path), "--state", "FIN_WAIT2", "--json")
    assert len(jsonl(p.stdout)) == 1, p.stdout
    # a path that fits has nothing folded
    path.write_bytes(header() + state(1 * S, 2, CLOSE, SYN_SENT, 5001)
                     + state(1 * S + MS, 2, SYN_SENT, CLOSE, 5001))
    [o] = jsonl(run("life", "--replay", str(path), "--json").stdout)
    assert o["folded"] == 0 and o["path"] == [{"state": "SYN_SENT", "ns": MS}], o


def lost(ts, count):
    """A kind-8 record, as tcpfsm writes it: the live run's ring buffer
    lost `count` so far (aux); no socket, so family 0."""
    return REC.pack(ts, 0, 0, count, 0, 0, 0, 0, 0, 0, LOST, 0, 0, 0, 0, 0,
                    bytes(16), bytes(16), bytes(16))


def summary(p):
    [line] = [l for l in p.stderr.splitlines() if "connections ended" in l]
    return line.split("; ")[1]


def test_summary_counts_only_what_the_filters_select(tmp_path):
    """As a live `--lport 8080` run records it: another port's connection
    sends only the records whose local port is 0 then (its connect(), its
    hand-over to a timewait socket), which look like a connection with a
    gap. Filtered out, it is neither shown nor counted, as ended or as
    incomplete; the selected ones are, incomplete when they are."""
    path = tmp_path / "lport.bin"
    path.write_bytes(header()
                     # another port's connection, as the kernel filter lets it by
                     + state(1 * S, 1, CLOSE, SYN_SENT, 0)
                     + state(1 * S + 5 * MS, 1, FIN_WAIT2, CLOSE, 0)
                     # port 8080: one whole connection...
                     + state(1 * S, 2, CLOSE, SYN_SENT, 8080)
                     + state(1 * S + 1 * MS, 2, SYN_SENT, CLOSE, 8080)
                     # ...one first seen mid-life...
                     + state(1 * S + 2 * MS, 3, ESTABLISHED, CLOSE, 8080)
                     # ...and one alive when records were lost (loss is
                     # noted as it arrives, records once the reorder
                     # buffer lets them go: 200 ms behind a port-less
                     # connect such as cookie 1's)
                     + state(1 * S + 3 * MS, 4, CLOSE, SYN_SENT, 8080)
                     + state(1 * S + 300 * MS, 4, SYN_SENT, ESTABLISHED, 8080)
                     + lost(1 * S + 350 * MS, 7)
                     + state(1 * S + 400 * MS, 4, ESTABLISHED, CLOSE, 8080))
    p = run("life", "--replay", str(path), "--lport", "8080")
    assert p.returncode == 0, p.stderr
    shown = [l for l in p.stdout.splitlines()[1:] if not l.startswith("LOST ")]
    assert [l.split()[1] for l in shown] == ["2", "3", "4"], shown
    assert ["[incomplete]" in l for l in shown] == [False, True, True], shown
    assert summary(p) == "3 connections ended, 2 incomplete, 0 evicted, 0 open at exit", p.stderr
    # every command's summary says the same
    for cmd in ("trace", "stats"):
        p = run(cmd, "--replay", str(path), "--lport", "8080")
        assert summary(p) == "3 connections ended, 2 incomplete, 0 evicted, 0 open at exit", p.stderr
    # unfiltered, the other port's connection counts, incomplete as it looks
    p = run("life", "--replay", str(path))
    assert summary(p) == "4 connections ended, 3 incomplete, 0 evicted, 0 open at exit", p.stderr
    # --state selects connections (life) as it selects their transitions
    p = run("trace", "--replay", str(path), "--lport", "8080", "--state", "SYN_SENT")
    assert summary(p) == "2 connections ended, 1 incomplete, 0 evicted, 0 open at exit", p.stderr


def test_loss_marker_replays_and_marks_records_it_overtook(tmp_path):
    """A recording of a run that lost records replays (the marker has no
    socket: family 0) and reports the loss. A connection whose first record
    came before the marker, still held in the reorder buffer when the
    marker was read, may have lost records too: incomplete. One that began
    after the marker is complete."""
    path = tmp_path / "lost.bin"
    path.write_bytes(header()
                     + state(1 * S, 5, CLOSE, SYN_SENT, 8080)
                     + lost(1 * S + 1 * MS, 3)
                     + state(1 * S + 2 * MS, 5, SYN_SENT, CLOSE, 8080)
                     + state(1 * S + 50 * MS, 6, CLOSE, SYN_SENT, 8081)
                     + state(1 * S + 51 * MS, 6, SYN_SENT, CLOSE, 8081))
    p = run("life", "--replay", str(path))
    assert p.returncode == 0, p.stderr
    # the loss is in the table where it happened: before either one ended
    assert p.stdout.splitlines()[1].startswith("LOST 3 records at "), p.stdout
    shown = p.stdout.splitlines()[2:]
    assert [l.split()[1] for l in shown] == ["5", "6"], shown
    assert ["[incomplete]" in l for l in shown] == [True, False], shown
    assert "4 events, 3 lost" in p.stderr, p.stderr
    assert summary(p) == "2 connections ended, 1 incomplete, 0 evicted, 0 open at exit", p.stderr


def test_held_connect_does_not_settle_a_request_early(tmp_path):
    """A request's timer is removed as its child is made; another socket's
    connect() (no local port yet) waits in the reorder buffer and holds the
    child's record back behind it. The replay's clock passing the removal's
    20 ms grace must not settle the request as dropped while that record
    is held: the child is the request's, passive and whole."""
    b = 1 * S
    path = tmp_path / "held.bin"
    path.write_bytes(header()
                     + record(b + 1 * MS, 5, STATE, CLOSE, LISTEN, 8080, 0)
                     + record(b + 10 * MS, 0, REQ_START, 0, SYN_RECV, 8080, 40000, aux=5)
                     + record(b + 12 * MS, 0, REQ_CANCEL, 0, SYN_RECV, 8080, 40000)
                     + record(b + 12 * MS + MS // 2, 7, STATE, CLOSE, SYN_SENT, 0, 9999)
                     + record(b + 13 * MS, 9, STATE, SYN_RECV, ESTABLISHED, 8080, 40000)
                     # other traffic moves the clock 40 ms on...
                     + record(b + 50 * MS, 20, STATE, CLOSE, SYN_SENT, 5000, 9998)
                     # ...before the connect's port arrives (a far peer)
                     + record(b + 100 * MS, 7, STATE, SYN_SENT, ESTABLISHED, 41000, 9999)
                     + record(b + 150 * MS, 9, STATE, ESTABLISHED, CLOSE, 8080, 40000))
    p = run("life", "--replay", str(path), "--json")
    assert p.returncode == 0, p.stderr
    lives = jsonl(p.stdout)
    # the others are still open when the recording ends
    assert [(o["cookie"], o["at_exit"]) for o in lives] == [
        (9, False), (7, True), (20, True)], lives
    child = lives[0]
    assert child["open"] == "passive" and not child["incomplete"], child
    assert child["path"][0]["state"] == "SYN_RECV", child


def test_count_stops_every_kind_of_record(tmp_path):
    """--count N prints N records and nothing after: a --stuck alert counts
    as one (an at-exit alert after the N-th is not printed), and stats
    with --interval makes N prints, not one more at exit."""
    path = tmp_path / "count.bin"
    path.write_bytes(header()
                     + state(1 * S, 1, CLOSE, SYN_SENT, 5000)
                     + state(1 * S + 1 * MS, 1, SYN_SENT, ESTABLISHED, 5000)
                     # later traffic moves the replay's clock on
                     + state(1 * S + 300 * MS, 2, CLOSE, SYN_SENT, 5001)
                     + state(2 * S, 3, CLOSE, SYN_SENT, 5002)
                     + state(2 * S + 1 * MS, 3, SYN_SENT, ESTABLISHED, 5002))
    p = run("trace", "--replay", str(path), "--stuck", "ESTABLISHED=100ms", "-c", "3")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()[1:]
    assert len(lines) == 3 and stuck_lines(lines[2], "STUCK ESTABLISHED"), lines
    p = run("trace", "--replay", str(path), "--stuck", "ESTABLISHED=100ms", "-c", "1",
            "--json", "--state", "CLOSE_WAIT")
    [o] = jsonl(p.stdout)
    assert o["type"] == "stuck" and not o["at_exit"], o

    for n in (1, 2):
        p = run("stats", "--replay", str(path), "-i", "200ms", "-c", str(n))
        assert p.returncode == 0, p.stderr
        assert p.stdout.count("time in state") == n, p.stdout
    # no --interval: the one print at the end
    p = run("stats", "--replay", str(path), "-c", "1")
    assert p.stdout.count("time in state") == 1, p.stdout


def test_summary_counts_no_listener(tmp_path):
    """A listener that closes is no connection: not among the summary's
    connections ended, in any command, whether life shows it (with
    --listeners) or not."""
    path = tmp_path / "listener.bin"
    path.write_bytes(header()
                     + record(1 * S, 5, STATE, CLOSE, LISTEN, 8080, 0)
                     + state(1 * S + 1 * MS, 1, CLOSE, SYN_SENT, 5000)
                     + state(1 * S + 2 * MS, 1, SYN_SENT, CLOSE, 5000)
                     + record(1 * S + 3 * MS, 5, STATE, LISTEN, CLOSE, 8080, 0))
    for args in (["life"], ["life", "--listeners"], ["trace"], ["stats"]):
        p = run(*args, "--replay", str(path))
        assert p.returncode == 0, p.stderr
        assert summary(p) == "1 connections ended, 0 incomplete, 0 evicted, 0 open at exit", (args, p.stderr)
    p = run("life", "--replay", str(path), "--listeners", "--json")
    assert [o["open"] for o in jsonl(p.stdout)] == ["active", "listen"], p.stdout
    p = run("life", "--replay", str(path), "--json")
    assert [o["open"] for o in jsonl(p.stdout)] == ["active"], p.stdout


def test_trace_incomplete_as_life_says(tmp_path):
    """trace's "incomplete" is life's: a connection whose start was not
    seen is incomplete on every line, one seen whole is not."""
    path = tmp_path / "incomplete.bin"
    path.write_bytes(header()
                     + state(1 * S, 1, CLOSE, SYN_SENT, 5000)
                     + state(1 * S + 1 * MS, 1, SYN_SENT, CLOSE, 5000)
                     + state(1 * S + 2 * MS, 2, ESTABLISHED, FIN_WAIT1, 5001)
                     + state(1 * S + 3 * MS, 2, FIN_WAIT1, CLOSE, 5001))
    p = run("trace", "--replay", str(path), "--json")
    assert p.returncode == 0, p.stderr
    got = [(o["cookie"], o["incomplete"]) for o in jsonl(p.stdout)]
    assert got == [(1, False), (1, False), (2, True), (2, True)], got
    p = run("life", "--replay", str(path), "--json")
    got = [(o["cookie"], o["incomplete"]) for o in jsonl(p.stdout)]
    assert got == [(1, False), (2, True)], got


LO6 = socket.inet_pton(socket.AF_INET6, "::1")


def test_stuck_line_unknown_owner_and_ipv6(tmp_path):
    """A STUCK line names an unknown owner '-', as the tables do (not
    'pid ?0'), and writes IPv6 ends as [addr]:port."""
    v6 = REC.pack(1 * S, 1, 1, 0, 0, 100, 100, 4026531840, 5000, 80,
                  1, ESTABLISHED, CLOSE_WAIT, 10, 2, 0, LO6, LO6, b"test" + bytes(12))
    path = tmp_path / "stuck6.bin"
    path.write_bytes(header() + v6
                     + state(1 * S + 1 * MS, 2, ESTABLISHED, CLOSE_WAIT, 5001)
                     + state(2 * S, 3, CLOSE, SYN_SENT, 5002))
    p = run("trace", "--replay", str(path), "--stuck", "CLOSE_WAIT=100ms")
    assert p.returncode == 0, p.stderr
    stuck = stuck_lines(p.stdout, "STUCK CLOSE_WAIT")
    assert len(stuck) == 2, p.stdout
    assert ": pid - comm - [::1]:5000 -> [::1]:80 cookie 1 cgroup -" in stuck[0], stuck
    assert ": pid - comm - 127.0.0.1:5001 -> 127.0.0.1:80 cookie 2 cgroup -" in stuck[1], stuck


def test_duration_and_period_near_the_end_of_the_clock(tmp_path):
    """A recording whose clock starts 3 s before 2^64 ns: -d counts from
    its start without wrapping (-d 5 used to stop after the first record:
    start + 5 s wrapped to 2 s), and a stats period over records older than
    the header's start is not a wrap to nearly 2^64."""
    start = 2**64 - 3 * S
    path = tmp_path / "late.bin"
    path.write_bytes(header(start_mono_ns=start)
                     + b"".join(state(start + i * S // 2, i, CLOSE, SYN_SENT, 5000 + i)
                                for i in range(1, 6)))
    for d, shown in (("5", [1, 2, 3, 4, 5]), ("1.2", [1, 2, 3])):
        p = run("trace", "--replay", str(path), "--json", "-d", d)
        assert p.returncode == 0, p.stderr
        assert [o["cookie"] for o in jsonl(p.stdout)] == shown, (d, p.stdout)

    early = tmp_path / "early.bin"
    early.write_bytes(header(start_mono_ns=100 * S)
                      + state(1 * S, 1, CLOSE, SYN_SENT, 5000)
                      + state(1 * S + 1000, 1, SYN_SENT, ESTABLISHED, 5000))
    p = run("stats", "--replay", str(early), "--json")
    assert p.returncode == 0, p.stderr
    periods = [o["period_ns"] for o in jsonl(p.stdout)]
    assert periods and all(0 <= n < 100 * S for n in periods), periods


def test_illegal_transition_marked_and_counted(tmp_path):
    """A transition TCP's state machine does not have (ESTABLISHED back to
    SYN_SENT) is shown as the kernel reported it, marked ILLEGAL in the
    table and "illegal": true in JSON, and counted in the closing summary;
    the legal ones around it are not marked."""
    path = tmp_path / "illegal.bin"
    path.write_bytes(header()
                     + state(1 * S, 1, CLOSE, SYN_SENT, 5000)
                     + state(1 * S + 1 * MS, 1, SYN_SENT, ESTABLISHED, 5000)
                     + state(2 * S, 1, ESTABLISHED, SYN_SENT, 5000)
                     + state(3 * S, 1, SYN_SENT, CLOSE, 5000))
    p = run("trace", "--replay", str(path))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()[1:]
    assert [l.endswith(" ILLEGAL") for l in lines] == [False, False, True, False], lines
    assert "ESTABLISHED -> SYN_SENT" in lines[2], lines
    assert ", 1 illegal transitions" in p.stderr, p.stderr
    p = run("trace", "--replay", str(path), "--json")
    assert p.returncode == 0, p.stderr
    objs = jsonl(p.stdout)
    assert [o.get("illegal", False) for o in objs] == [False, False, True, False], objs
    # a recording of legal moves only: nothing counted
    legal = tmp_path / "legal.bin"
    legal.write_bytes(header()
                      + state(1 * S, 1, CLOSE, SYN_SENT, 5000)
                      + state(1 * S + 1 * MS, 1, SYN_SENT, SYN_RECV, 5000)  # simultaneous open
                      + state(2 * S, 1, SYN_RECV, CLOSE_WAIT, 5000)         # Fast Open's FIN
                      + state(3 * S, 1, CLOSE_WAIT, LAST_ACK, 5000)
                      + state(3 * S + 1 * MS, 1, LAST_ACK, CLOSE, 5000))
    p = run("trace", "--replay", str(legal))
    assert p.returncode == 0 and "ILLEGAL" not in p.stdout, p.stdout
    assert "illegal" not in p.stderr, p.stderr
