"""stats, life and the replay error paths, on the recorded real-traffic
fixture tests/data/replay/loopback.bin (see record.py beside it). No root
needed: --replay reads the file instead of the kernel."""
import json
import os
import tempfile

from conftest import jsonl, run

FIXTURE = os.path.join(os.path.dirname(__file__), "../data/replay/loopback.bin")


def lines(p):
    return jsonl(p.stdout)


def test_stats_json_counts_and_durations():
    p = run("stats", "--replay", FIXTURE, "--json")
    assert p.returncode == 0, p.stderr
    by_state = {o["state"]: o["hist"] for o in lines(p)}
    # two server children and one client held CLOSE_WAIT/FIN_WAIT2 etc.
    assert by_state["CLOSE_WAIT"]["count"] == 2
    assert 200e6 <= by_state["CLOSE_WAIT"]["max_ns"] < 260e6  # the 200 ms hold
    assert by_state["TIME_WAIT"]["count"] == 1  # the killed one; the IPv6 one never ended
    assert by_state["SYN_SENT"]["count"] == 3  # two pairs and the refused connect
    for h in by_state.values():
        assert h["min_ns"] <= h["p50_ns"] <= h["p90_ns"] <= h["p99_ns"] <= h["max_ns"]
        assert sum(b["count"] for b in h["buckets"]) == h["count"]
    assert "0 lost" in p.stderr


def test_stats_by_lport_table():
    p = run("stats", "--replay", FIXTURE, "--by", "lport")
    assert p.returncode == 0, p.stderr
    assert "lport 18080:" in p.stdout and "lport 18081:" in p.stdout
    section = p.stdout.split("lport 18080:")[1].split("lport ")[0]
    row = [l for l in section.splitlines() if l.startswith("CLOSE_WAIT")][0]
    assert row.split()[1] == "1"  # count
    assert "usecs" in section and "|*" in section  # the bcc-style histogram


def test_stats_interval_prints_and_resets():
    p = run("stats", "--replay", FIXTURE, "--json", "--interval", "100ms")
    assert p.returncode == 0, p.stderr
    prints = {}
    for o in lines(p):
        prints.setdefault(o["ts"], []).append(o)
    assert len(prints) >= 2  # the recording spans ~0.5 s
    # each print holds only its own period: the counts add up to the total
    total = run("stats", "--replay", FIXTURE, "--json")
    want = {o["state"]: o["hist"]["count"] for o in lines(total)}
    got = {}
    for objs in prints.values():
        for o in objs:
            got[o["state"]] = got.get(o["state"], 0) + o["hist"]["count"]
    assert got == want


def test_life_listeners_option():
    plain = lines(run("life", "--replay", FIXTURE, "--json"))
    more = lines(run("life", "--replay", FIXTURE, "--json", "--listeners"))
    assert not [o for o in plain if o["open"] == "listen"]
    listeners = [o for o in more if o["open"] == "listen"]
    assert sorted(o["sport"] for o in listeners) == [18080, 18081]
    assert all(o["close"] == "listener" for o in listeners)
    assert len(more) == len(plain) + 2


def test_replay_without_boot_id_has_no_cgroup_paths():
    """The fixture predates the header's boot id: its cgroup ids may name
    other cgroups here, so none is turned into a path."""
    recs = lines(run("life", "--replay", FIXTURE, "--json"))
    owned = [o for o in recs if o["pid"] is not None]
    assert owned and all(o["cgroup_id"] is not None for o in owned)
    assert all("cgroup" in o and o["cgroup"] is None for o in recs)
    p = run("stats", "--replay", FIXTURE, "--json", "--by", "cgroup")
    assert p.returncode == 0, p.stderr
    assert {(o["key"], o["cgroup_id"] is None) for o in lines(p)} == {(None, False)}


def test_replay_damage_is_one_line_with_offset():
    data = open(FIXTURE, "rb").read()
    with tempfile.TemporaryDirectory() as d:
        cut = os.path.join(d, "cut.bin")
        with open(cut, "wb") as f:
            f.write(data[:168 + 112 * 3 + 50])  # three records and a piece
        p = run("trace", "--replay", cut, "--json")
        assert p.returncode == 1
        err = [l for l in p.stderr.splitlines() if "replay" in l]
        assert err == [f"tcpfsm: --replay {cut}: truncated record at offset {168 + 112 * 3} "
                       f"(need 112 bytes, have 50)"], p.stderr
        assert len(p.stdout.splitlines()) >= 1  # what came before was reported

        bad = os.path.join(d, "bad.bin")
        with open(bad, "wb") as f:
            f.write(b"NOTTCPFSM" + data[9:])
        p = run("life", "--replay", bad)
        assert p.returncode == 1
        # a header error names the file, as every other replay error does
        assert p.stderr.count("\n") == 1 and "magic" in p.stderr and bad in p.stderr, p.stderr

    p = run("stats", "--replay", "/nonexistent/x.bin")
    assert p.returncode == 1
    assert p.stderr.strip() == "tcpfsm: --replay /nonexistent/x.bin: No such file or directory"


def test_orphan_fin_wait2_in_tables():
    """The client closed in FIN_WAIT1: its FIN_WAIT2 was an orphan's, and
    both tables say so (JSON carries orphan/orphan_ns, checked live in
    test_scenarios)."""
    trace = run("trace", "--replay", FIXTURE).stdout.splitlines()
    fw2 = [l for l in trace if "FIN_WAIT2   -> TIME_WAIT" in l]
    # the IPv4 client closed; the IPv6 one was still open at the server's FIN
    assert [" orphan" in l for l in fw2] == [" 45476 " in l for l in fw2] == [False, True], fw2
    assert not [l for l in trace if "orphan" in l and "FIN_WAIT2   ->" not in l]
    life = run("life", "--replay", FIXTURE).stdout.splitlines()
    client = [l for l in life if "FIN_WAIT2" in l and "TIME_WAIT" in l]
    # the IPv6 client was still in TIME_WAIT when the recording ended
    assert [" 48534 " in l and l.endswith("TIME_WAIT >303.444 [open at exit]")
            for l in client] == [False, True], client
    assert "FIN_WAIT2 157.299 (orphan 157.293)" in client[0], client
    j = [o for o in lines(run("life", "--replay", FIXTURE, "--json"))
         if any(p["state"] == "FIN_WAIT2" for p in o["path"])]
    orphans = [p["orphan_ns"] for o in j for p in o["path"] if "orphan_ns" in p]
    assert orphans == [157293458], orphans
