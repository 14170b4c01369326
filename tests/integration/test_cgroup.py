"""The owner's cgroup by path (root): a client moved into a cgroup made for
the test, its connections seen by trace, life, --stuck, stats and snapshot."""
import collections
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from conftest import BIN, jsonl, listener, run, stuck_lines, wait_for

Cgroup = collections.namedtuple("Cgroup", "dir path id")

# Joins the cgroup before it makes its socket, connects, waits for the
# server's FIN (so it, not the client, goes through TIME_WAIT), then holds
# CLOSE_WAIT until a line arrives on stdin.
CLIENT = r"""
import os, socket, sys
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
print(c.getsockname()[1], flush=True)
assert c.recv(1) == b""
sys.stdin.readline()
c.close()
"""


def cgroup2_mount():
    """(mount point, root within the hierarchy) of the first cgroup2 mount."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, rest = line.partition(" - ")
            if rest.split()[0] == "cgroup2":
                f = fields.split()
                return f[4], f[3]
    return None


def own_cgroup(pid="self"):
    """The "0::" line of /proc/PID/cgroup: the path tcpfsm should print."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


@pytest.fixture
def make_cgroup():
    """Make tcpfsm-test-<pid> when asked; at the end move anything left in it
    to the root cgroup and remove it."""
    m = cgroup2_mount()
    if m is None:
        pytest.skip("no cgroup2 mount")
    mnt, root = m
    made = []

    def make():
        name = f"tcpfsm-test-{os.getpid()}"
        d = os.path.join(mnt, name)
        os.mkdir(d)
        made.append(d)
        return Cgroup(d, root.rstrip("/") + "/" + name, os.stat(d).st_ino)

    yield make
    for d in made:
        with open(os.path.join(d, "cgroup.procs")) as f:
            left = f.read().split()
        for pid in left:
            try:
                with open(os.path.join(mnt, "cgroup.procs"), "w") as f:
                    f.write(pid)
            except OSError:
                pass  # exited meanwhile

        def removed():
            try:
                os.rmdir(d)
                return True
            except OSError:
                return False  # EBUSY until the last task has left
        wait_for(removed, timeout=10, what=f"rmdir {d}")


def client_in(cg, lis):
    """Start the client in cg; accept it and close our end. Returns the
    client (in CLOSE_WAIT once it has read our FIN) and its local port."""
    port = lis.getsockname()[1]
    c = subprocess.Popen([sys.executable, "-c", CLIENT, os.path.join(cg.dir, "cgroup.procs"),
                          str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cport = int(c.stdout.readline())
    s, _ = lis.accept()
    s.close()
    return c, cport


def release(c):
    c.stdin.write(b"\n")
    c.stdin.close()
    assert c.wait(timeout=10) == 0


def test_trace_life_json_and_replay_name_the_cgroup(tracer, make_cgroup, tmp_path):
    lis = listener()
    port = lis.getsockname()[1]
    rec = str(tmp_path / "rec.bin")
    life = tracer("--rport", str(port), cmd="life")
    trace = tracer("--rport", str(port), "--record", rec)
    # made after the tracers started: the path is found when first asked for
    cg = make_cgroup()
    c, cport = client_in(cg, lis)
    assert own_cgroup(c.pid) == cg.path
    release(c)
    # a control: this process's own connection, in its own cgroup
    me = socket.create_connection(("127.0.0.1", port))
    s, _ = lis.accept()
    s.close()
    assert me.recv(1) == b""
    me.close()
    lis.close()

    def both(r):
        got = {x["pid"]: x for x in r if x["pid"] in (c.pid, os.getpid())}
        return got if len(got) == 2 else None

    recs = life.wait(both, what="both clients' life records")
    assert recs[c.pid]["sport"] == cport
    assert recs[c.pid]["cgroup_id"] == cg.id
    assert recs[c.pid]["cgroup"] == cg.path
    mine = own_cgroup()
    assert recs[os.getpid()]["cgroup"] == mine
    assert recs[os.getpid()]["cgroup_id"] != cg.id

    # every transition whose owner is known names the owner's cgroup
    def client_closed(r):
        ours = [x for x in r if x["cookie"] == recs[c.pid]["cookie"]]
        return ours if any(x["newstate"] == "CLOSE" for x in ours) else None

    tr = trace.wait(client_closed, what="the client's transitions")
    assert [x for x in tr if x["pid"] == c.pid], tr
    for x in tr:
        if x["pid"] is None:
            assert x["cgroup_id"] is None and x["cgroup"] is None, x
        else:
            assert (x["pid"], x["cgroup_id"], x["cgroup"]) == (c.pid, cg.id, cg.path), x
    trace.stop()
    assert trace.returncode == 0

    # replayed in the boot that recorded it: ids still name the same cgroups
    p = run("life", "--replay", rec, "--json")
    assert p.returncode == 0, p.stderr
    again = jsonl(p.stdout)
    again = [x for x in again if x["pid"] == c.pid]
    assert [(x["cgroup_id"], x["cgroup"]) for x in again] == [(cg.id, cg.path)]
    p = run("stats", "--replay", rec, "--json", "--by", "cgroup")
    assert p.returncode == 0, p.stderr
    groups = {(o["key"], o["cgroup_id"]) for o in jsonl(p.stdout)}
    assert (cg.path, cg.id) in groups, groups
    assert all(o["by"] == "cgroup" for o in jsonl(p.stdout))
    p = run("stats", "--replay", rec, "--by", "cgroup")
    assert f"\ncgroup {cg.path}:\n" in p.stdout, p.stdout

    # from another boot the same id may be another cgroup: no path, the id stays
    with open(rec, "rb") as f:
        data = bytearray(f.read())
    data[168] ^= 0xff  # the boot id
    other = str(tmp_path / "other-boot.bin")
    with open(other, "wb") as f:
        f.write(data)
    p = run("life", "--replay", other, "--json")
    assert p.returncode == 0, p.stderr
    again = [x for x in jsonl(p.stdout) if x["pid"] == c.pid]
    assert [(x["cgroup_id"], x["cgroup"]) for x in again] == [(cg.id, None)]


def test_stuck_line_and_snapshot_name_the_cgroup(make_cgroup, tmp_path):
    lis = listener()
    port = lis.getsockname()[1]
    d = str(tmp_path)
    out_path = os.path.join(d, "out.txt")
    env = dict(os.environ, TCPFSM_AGE_SOCK=os.path.join(d, "age.sock"))
    with open(out_path, "wb") as out, open(os.path.join(d, "err.txt"), "wb") as err:
        t = subprocess.Popen([BIN, "trace", "--rport", str(port), "--stuck", "CLOSE_WAIT=100ms"],
                             stdout=out, stderr=err, env=env)
    c = None
    try:
        wait_for(lambda: b"Ctrl-C" in open(os.path.join(d, "err.txt"), "rb").read()
                 or t.poll() is not None, timeout=30, what="the tracer to attach")
        assert t.poll() is None
        cg = make_cgroup()
        c, cport = client_in(cg, lis)
        stuck = wait_for(lambda: [l for l in stuck_lines(open(out_path).read())
                                  if f":{cport} ->" in l],
                         what="the STUCK line")
        assert stuck[0].endswith(f" cgroup {cg.path}"), stuck
        assert f"pid {c.pid} " in stuck[0]

        # the socket's own cgroup, from sock_diag, resolved the same way
        p = run("snapshot", "--json", "--rport", str(port))
        assert p.returncode == 0, p.stderr
        rows = [r for r in jsonl(p.stdout) if r["lport"] == cport]
        assert [(r["state"], r["cgroup_id"], r["cgroup"]) for r in rows] == \
            [("CLOSE_WAIT", cg.id, cg.path)]
    finally:
        if c:
            release(c)
        lis.close()
        if t.poll() is None:
            t.send_signal(signal.SIGINT)
    assert t.wait(timeout=30) == 0
