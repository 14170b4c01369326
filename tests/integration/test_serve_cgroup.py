"""tcpfsm serve --by cgroup: each socket counted under its own cgroup v2's
path, as ss --cgroup names it, within the series cap."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import wait_for
from test_cgroup import cgroup2_mount
from test_serve import SS_STATE, TRAFFIC, Traffic, serve  # noqa: F401 (fixture)

LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def sockets_by_cgroup(text):
    """{(state, cgroup): count} of tcpfsm_sockets, and the raw text."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("tcpfsm_sockets{"):
            continue
        head, value = line.rsplit(" ", 1)
        d = {k: unescape(v) for k, v in LABEL.findall(head)}
        if float(value):
            out[(d["state"], d["cgroup"])] = int(float(value))
    return out


class CgTraffic(Traffic):
    """serve_traffic.py in the namespace, moved into cgroup dir before it
    starts: every socket it makes is that cgroup's."""

    def __init__(self, ns, cgdir):
        procs = os.path.join(cgdir, "cgroup.procs")

        def join():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, TRAFFIC],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1, preexec_fn=join)


@pytest.fixture
def cgroups():
    """Make cgroups under the cgroup2 mount; remove them at the end."""
    m = cgroup2_mount()
    if m is None:
        pytest.skip("no cgroup2 mount")
    mnt, root = m
    made = []

    def make(name):
        d = os.path.join(mnt, f"tcpfsm-test-{os.getpid()}-{name}")
        os.mkdir(d)
        made.append(d)
        return d, root.rstrip("/") + d[len(mnt):]

    yield make
    for d in made:
        def removed():
            try:
                os.rmdir(d)
                return True
            except OSError:
                return False  # EBUSY until the last task has left
        wait_for(removed, timeout=10, what=f"rmdir {d}")


def test_by_cgroup_matches_ss(serve, netns, cgroups):
    ns = netns()
    # a name that needs escaping in the exposition
    (da, pa), (db, pb), (dc, pc) = cgroups("a"), cgroups('b"\\x'), cgroups("c")
    ids = {pa: os.stat(da).st_ino, pb: os.stat(db).st_ino, pc: os.stat(dc).st_ino}
    owner = {}   # listener port -> the cgroup whose process uses both ends
    ta, tb, tc = CgTraffic(ns, da), CgTraffic(ns, db), CgTraffic(ns, dc)
    try:
        # older than serve: the full sockets are found in their cgroup by
        # reconciliation; the clients' orphaned FIN_WAIT2 minisockets,
        # which sock_diag names no cgroup for, in "unknown"
        ta.do("closewait 7001 3")
        owner[7001] = "unknown"
        srv = serve("--netns", f"/run/netns/{ns.name}", "--reconcile", "200ms",
                    "--by", "cgroup", "--max-series", "2")
        tb.do("closewait 7002 2")
        owner[7002] = pb
        tb.do("timewait 7003 4")        # TIME_WAIT: the closing socket's cgroup
        owner[7003] = pb
        ta.do("timewait 7004 1")
        owner[7004] = pa
        # half-open: request socks (no cgroup in sock_diag) in their
        # listener's cgroup; the final ACK dropped
        ns.drop("tfsmcgho", "output", "tcp dport 7006 tcp flags & (syn | ack | fin | rst) == ack")
        tb.do("halfopen 7006 3")
        owner[7006] = pb
        tc.do("closewait 7005 2")       # a third cgroup: over the cap of 2
        owner[7005] = "other"
        tb.do("release 7002")

        def expected():
            want = {}
            for line in ns.exec("ss", "-tanH", "--cgroup").splitlines():
                f = line.split()
                ports = {int(f[3].rsplit(":", 1)[1]), int(f[4].rsplit(":", 1)[1])
                         if f[4].rsplit(":", 1)[1] != "*" else 0}
                mine = [owner[p] for p in ports if p in owner]
                assert len(mine) == 1, line
                cg = [x[len("cgroup:"):] for x in f if x.startswith("cgroup:")]
                if cg:
                    # a full socket: ss's own cgroup is the truth (by id:
                    # under ip netns exec, ss finds no cgroup2 mount), and
                    # the one whose process made it
                    cgid = int(cg[0][len("unreachable:"):], 16) \
                        if cg[0].startswith("unreachable:") else ids[cg[0]]
                    want_cg = {ids[pa]: pa, ids[pb]: pb, ids[pc]: "other"}[cgid]
                    assert mine[0] in (want_cg, "unknown"), (line, mine)
                else:
                    want_cg = mine[0]   # a minisocket: its process's
                key = (SS_STATE[f[0]], want_cg)
                want[key] = want.get(key, 0) + 1
            return want

        # the released connections' ends move on: compare with ss as it is,
        # until both agree and stay
        def agree():
            before = expected()
            text = srv.metrics()
            got = sockets_by_cgroup(text)
            return (got, text) if got == before == expected() else None
        got, text = wait_for(agree, timeout=20, interval=0.2, what="per-cgroup counts == ss")
        assert got[("close_wait", pa)] == 3 and got[("listen", pa)] == 2
        assert got[("fin_wait2", "unknown")] == 3
        # 7003's servers, and 7002's clients once their FIN came
        assert got[("time_wait", pb)] == 4 + 2 and got[("time_wait", pa)] == 1
        assert got[("close_wait", "other")] == 2
        assert got[("syn_recv", pb)] == 3
        assert not [k for k in got if k[1] == pc]
        assert 'cgroup="' + pb.replace("\\", "\\\\").replace('"', '\\"') + '"' in text
        assert "tcpfsm_series_dropped_total 0" not in text
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)
            assert p.returncode == 0, p.stdout + p.stderr
    finally:
        for t in (ta, tb, tc):
            t.close()
