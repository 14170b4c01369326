"""tcpfsm trace against real loopback connections (root)."""
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import (BIN, run, by_cookie, kill_time_wait, listener, path, ss_cookies,
                      wait_for)

CLIENT_FULL = [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
               ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"),
               ("FIN_WAIT2", "CLOSE")]
SERVER_CHILD = [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                ("LAST_ACK", "CLOSE")]
LISTENER = [("CLOSE", "LISTEN"), ("LISTEN", "CLOSE")]


def one_connection(family, addr, hold_close_wait=0.0):
    """Client closes first; the server holds CLOSE_WAIT, then closes."""
    lis = listener(family, addr)
    port = lis.getsockname()[1]
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect((addr, port))
    s, _ = lis.accept()
    cookies = ss_cookies()
    c.sendall(b"ping")
    assert s.recv(4) == b"ping"
    c.close()
    # the server sees the FIN: wait for EOF, not for time
    assert s.recv(4) == b""
    held_from = time.monotonic_ns()  # CLOCK_MONOTONIC, as bpf_ktime_get_ns
    if hold_close_wait:
        time.sleep(hold_close_wait)  # the duration under test, not a sync
    held_to = time.monotonic_ns()
    s.close()
    lis.close()
    one_connection.held = (held_from, held_to)
    return port, cookies


@pytest.mark.parametrize("family,addr", [(socket.AF_INET, "127.0.0.1"),
                                         (socket.AF_INET6, "::1")])
def test_exact_transitions_without_minisockets(tracer, family, addr):
    """The state tracepoint alone: issue 2's exact sequences, one cookie each."""
    t = tracer("--no-minisocks")
    port, cookies = one_connection(family, addr)
    t.wait(lambda r: any(x["newstate"] == "CLOSE" and x["oldstate"] == "LISTEN"
                                and x["sport"] == port for x in r), what="listener close")
    recs = t.stop()
    t.assert_nothing_lost()
    assert t.returncode == 0
    conns = by_cookie(recs, port)
    paths = {ck: path(tr) for ck, tr in conns.items()}
    client = [ck for ck, p in paths.items() if p[0] == ("CLOSE", "SYN_SENT")]
    child = [ck for ck, p in paths.items() if p[0] == ("LISTEN", "SYN_RECV")]
    lis = [ck for ck, p in paths.items() if p[0] == ("CLOSE", "LISTEN")]
    assert len(client) == len(child) == len(lis) == 1, paths
    assert paths[client[0]] == CLIENT_FULL
    assert paths[child[0]] == SERVER_CHILD
    assert paths[lis[0]] == LISTENER
    fam = "ipv4" if family == socket.AF_INET else "ipv6"
    for r in conns[client[0]] + conns[child[0]]:
        assert r["family"] == fam
        assert r["saddr"] == addr and r["daddr"] == addr
    # the cookie is the one ss shows for the same socket
    cport = [r["sport"] for r in conns[client[0]] if r["sport"]][0]
    assert cookies[(addr, cport, addr, port)] == client[0]
    assert cookies[(addr, port, addr, cport)] == child[0]
    # time in the state left: unknown for CLOSE (socket() unseen), known after
    first = conns[client[0]][0]
    assert first["prev_ns"] is None
    assert all(r["prev_ns"] is not None for r in conns[client[0]][1:])
    # owner: this process, on every line, softirq ones included
    for ck in (client[0], child[0], lis[0]):
        for r in conns[ck]:
            assert r["pid"] == os.getpid(), r
            assert r["comm"] is not None


def test_true_path_with_time_wait_start(tracer, netns, peers):
    """With the minisocket hooks: FIN_WAIT2 -> TIME_WAIT instead of CLOSE.

    In a namespace of its own: tcp_max_tw_buckets is per namespace, so no
    other test or benchmark can have filled the TIME_WAIT table the client's
    minisocket goes into (when full there is none: see
    test_no_time_wait_when_the_table_is_full). TIME_WAIT is ended with ss -K.
    """
    ns = netns()
    t = tracer()
    srv, cli = peers(ns, "srv"), peers(ns, "cli")
    port = int(srv.do("listen L 127.0.0.1 0"))
    cport = int(cli.do(f"connect C 127.0.0.1 {port}"))
    srv.do("accept L S")
    cli.do("close C")
    srv.do("eof S")
    srv.do("close S")
    srv.do("close L")
    # the server's FIN has gone: the client is in TIME_WAIT (or, were the
    # table full, gone); end it rather than wait 60 s
    wait_for(lambda: [l.split()[0] for l in ns.ss("-tanH", f"sport = :{cport}").splitlines()]
             in ([], ["TIME-WAIT"]), what="the client's TIME_WAIT")
    kill_time_wait(ns, cport)

    def mine(recs):
        return [r for r in recs if r.get("type") == "transition" and r.get("netns") == ns.inode]

    def ended(recs):
        return (any(r["sport"] == port and (r["oldstate"], r["newstate"]) == ("LISTEN", "CLOSE")
                    for r in recs)
                and any(r["sport"] == cport and r["newstate"] == "CLOSE" for r in recs))
    t.wait(lambda r: ended(mine(r)), what="the listener's and the client's ends")
    recs = mine(t.stop())
    t.assert_nothing_lost()
    conns = by_cookie(recs, port)
    client = [tr for tr in conns.values() if path(tr)[0] == ("CLOSE", "SYN_SENT")][0]
    client.sort(key=lambda r: r["mono_ns"])  # an inferred start prints late
    # the full socket's FIN_WAIT2 -> CLOSE is its hand-over to the minisocket:
    # not reported; the minisocket's FIN_WAIT2 -> TIME_WAIT and its end are
    assert ("FIN_WAIT2", "CLOSE") not in path(client), path(client)
    assert path(client)[:4] == CLIENT_FULL[:4]
    assert path(client)[4:] == [("FIN_WAIT2", "TIME_WAIT"), ("TIME_WAIT", "CLOSE")], path(client)
    assert client[4]["source"] == "timewait", client[4]
    assert client[5]["end"] == "killed", client[5]
    # the half-open time: LISTEN -> SYN_RECV stamped at the SYN (request sock)
    req = [r for r in recs if r.get("source") == "request" and r["sport"] == port]
    assert len(req) == 1 and req[0]["newstate"] == "SYN_RECV"
    child = [tr for tr in conns.values() if path(tr)[0] == ("SYN_RECV", "ESTABLISHED")]
    assert len(child) == 1
    assert child[0][0]["prev_ns"] == child[0][0]["mono_ns"] - req[0]["mono_ns"]


def test_close_wait_duration(tracer):
    """CLOSE_WAIT held for a known time is reported within 5%."""
    t = tracer()
    port, _ = one_connection(socket.AF_INET, "127.0.0.1", hold_close_wait=1.0)
    t.wait(lambda r: any(x["newstate"] == "LAST_ACK" and x["sport"] == port for x in r))
    recs = t.stop()
    cw = [r for r in recs if r["sport"] == port and r["oldstate"] == "CLOSE_WAIT"][0]
    held_from, held_to = one_connection.held
    # the process saw EOF after CLOSE_WAIT began, and closed after held_to
    assert cw["mono_ns"] - cw["prev_ns"] <= held_from
    assert cw["mono_ns"] >= held_to
    held = held_to - held_from
    assert abs(cw["prev_ns"] - held) <= 0.05 * held, (cw["prev_ns"], held)


def test_filters_in_kernel_and_user_space(tracer):
    lis_a = listener()
    lis_b = listener()
    pa, pb = lis_a.getsockname()[1], lis_b.getsockname()[1]
    t = tracer("--lport", str(pa), "--state", "ESTABLISHED")
    for lis, p in ((lis_a, pa), (lis_b, pb)):
        c = socket.create_connection(("127.0.0.1", p))
        s, _ = lis.accept()
        c.close()
        s.recv(1)
        s.close()
    t.wait(lambda r: any(x["oldstate"] == "ESTABLISHED" and x["sport"] == pa for x in r))
    lis_a.close()
    lis_b.close()
    recs = t.stop()
    assert recs
    for r in recs:
        assert r["sport"] == pa or r["sport"] == 0, r
        assert "ESTABLISHED" in (r["oldstate"], r["newstate"]), r


def test_pid_filter_is_owner_not_current(tracer):
    """--pid keeps softirq-driven transitions of the process's sockets."""
    t = tracer("--pid", str(os.getpid()), "--no-minisocks")
    port, _ = one_connection(socket.AF_INET, "127.0.0.1")
    t.wait(lambda r: any(x["oldstate"] == "LISTEN" and x["newstate"] == "CLOSE"
                                and x["sport"] == port for x in r))
    recs = t.stop()
    mine = [r for r in recs if port in (r["sport"], r["dport"])]
    assert ("ESTABLISHED", "CLOSE_WAIT") in path(mine)  # ran in softirq
    assert all(r["pid"] == os.getpid() for r in recs)


def test_hostile_comm_is_escaped(tracer):
    """Process names are untrusted: the JSON stays valid whatever they hold."""
    lis = listener()
    port = lis.getsockname()[1]
    rec = os.path.join(tempfile.mkdtemp(prefix="tcpfsm-rec-"), "comm.bin")
    t = tracer("--rport", str(port), "--record", rec)
    name = b'a"b\\c\n\x01\xff\xfe}'
    child = os.fork()
    if child == 0:
        try:
            libc = ctypes.CDLL(None)
            libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
            c = socket.create_connection(("127.0.0.1", port))
            c.close()
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    s, _ = lis.accept()
    s.close()
    lis.close()
    t.wait(lambda r: any(x["oldstate"] == "CLOSE" and x["newstate"] == "SYN_SENT" for x in r))
    recs = t.stop()
    syn = [r for r in recs if r["newstate"] == "SYN_SENT"][0]
    assert syn["pid"] == child
    expected = name.decode("latin-1")[:15]
    assert syn["comm"] == expected
    # and the table form writes every such byte as \xNN (same stream, replayed)
    out = subprocess.run([BIN, "trace", "--replay", rec, "--rport", str(port)],
                         capture_output=True)
    assert out.returncode == 0
    line = [l for l in out.stdout.decode("ascii").splitlines() if "SYN_SENT" in l][0]
    assert 'a"b\\x5cc\\x0a\\x01\\xff\\xfe}' in line, line
    shutil.rmtree(os.path.dirname(rec))


@pytest.mark.parametrize("argv,needle", [
    (["trace", "--bogus"], "unknown option '--bogus'"),
    (["trace", "--lport", "99999"], "--lport"),
    (["trace", "--state", "NOPE"], "unknown state 'NOPE'"),
    (["trace", "--state", "LISTEN,NOPE,CLOSE"], "unknown state 'NOPE'"),
    (["trace", "--state", "A" * 100], "'AAAAAAAAAAAAAAAA...' (100 bytes) is too long"),
    (["life", "--state", "LISTEN,"], "empty state name"),
    (["trace", "--addr", "10.0.0.0/33"], "--addr"),
    (["trace", "-4", "-6"], "exclude"),
    (["trace", "--timestamp", "utc"], "--timestamp"),
    (["trace", "--stuck", "CLOSE_WAIT"], "--stuck"),
    (["trace", "--duration", "soon"], "--duration"),
    (["trace", "extra"], "unexpected argument"),
    (["nosuchcommand"], "unknown command"),
])
def test_bad_input_one_line_exit_2(argv, needle):
    p = subprocess.run([BIN, *argv], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert needle in lines[0]
    assert len(lines) == 2 and lines[1].startswith("Try 'tcpfsm")
    assert p.stdout == ""


def test_not_root_says_what_is_missing():
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", BIN, "trace"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1, p.stderr
    assert "CAP_BPF" in p.stderr


def connect_until_exit(proc, lis, timeout=20):
    """Short connections to lis, paced, until proc has exited."""
    port = lis.getsockname()[1]
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = lis.accept()
        c.close()
        s.close()
        time.sleep(0.05)  # pacing the traffic, not waiting for it


def test_closed_pipe_exits_quietly():
    lis = listener()
    port = lis.getsockname()[1]
    # the shell exits with the tracer's status, not head's
    p = subprocess.Popen(["/bin/bash", "-c", f"{BIN} trace --rport {port} | head -1; "
                          'exit "${PIPESTATUS[0]}"'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # header line, then traffic until head has taken its line and the tracer went
    connect_until_exit(p, lis)
    out, err = p.communicate(timeout=10)
    lis.close()
    assert p.returncode == 0, err
    assert out.decode().startswith("TIME")
    assert b"tracing" in err  # only the start line; no error, no traceback
    assert b"rror" not in err


def tcpfsm_prog_ids():
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True,
                         text=True, check=True).stdout
    return {p["id"] for p in json.loads(out) if p.get("name", "").startswith("handle_")}


def prog_ids_of(pid):
    """BPF program ids a process holds, from /proc/PID/fdinfo."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def test_sigterm_detaches_and_reports(tracer):
    t = tracer()
    # other tests' tracers run in parallel: only this process's programs
    ours = prog_ids_of(t.proc.pid) & tcpfsm_prog_ids()
    # the state program, its copy for nested runs, three timer programs,
    # the FIN watch
    assert len(ours) == 6, ours
    t.stop(signal.SIGTERM)
    assert t.returncode == 0
    t.assert_nothing_lost()
    # the kernel frees programs asynchronously once the last reference goes
    wait_for(lambda: not (tcpfsm_prog_ids() & ours), timeout=10, what="programs freed")


def test_duration_and_count(tracer):
    start = time.monotonic()
    p = subprocess.run([BIN, "trace", "--duration", "1", "--json"], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 0
    assert 0.9 <= time.monotonic() - start < 10
    lis = listener()
    port = lis.getsockname()[1]
    proc = subprocess.Popen([BIN, "trace", "--json", "--count", "2", "--rport", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stderr:  # the attach line, or EOF if it died
        if b"Ctrl-C" in line:
            break
    assert proc.poll() is None, "the tracer exited before attaching"
    connect_until_exit(proc, lis)
    out, _ = proc.communicate(timeout=10)
    lis.close()
    # the two records, then the stream's summary
    recs = [json.loads(l) for l in out.decode().splitlines()]
    assert [r["type"] for r in recs] == ["transition", "transition", "summary"], recs


def test_v4_mapped_listener_is_ipv4_in_trace_and_snapshot(tracer):
    """An IPv6 socket bound to ::ffff:127.0.0.1 has a mapped local address
    and an unset remote one: one rule (BPF and sock_diag alike) makes it
    IPv4 in both, so a seeded socket keeps its family in its records."""
    t = tracer()
    lis = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lis.bind(("::ffff:127.0.0.1", 0))
    lis.listen()
    port = lis.getsockname()[1]
    snap = run("snapshot", "--json", "--lport", str(port))
    lis.close()
    t.wait(lambda r: any(x["sport"] == port and x["newstate"] == "CLOSE" for x in r),
           what="listener close")
    recs = [r for r in t.stop() if r["sport"] == port]
    assert [(r["oldstate"], r["newstate"]) for r in recs] == LISTENER, recs
    assert {(r["family"], r["saddr"]) for r in recs} == {("ipv4", "127.0.0.1")}, recs
    listed = [json.loads(l) for l in snap.stdout.splitlines()]
    assert len(listed) == 1 and listed[0]["family"] == "ipv4", listed  # as trace names it
