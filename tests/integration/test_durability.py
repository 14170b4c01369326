# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""However a run ends, nothing is lost: a hang-up ends it as Ctrl-C does, a
recording is on disk as it goes (a kill -9 loses at most a poll's worth),
files are created safely, and a closed output ends the run (root)."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, listener, run, wait_for


def connect_close(lis, n=1):
    """n connections to lis, each accepted, closed by the client first;
    returns their client ports."""
    ports = []
    for _ in range(n):
        c = socket.create_connection(lis.getsockname())
        s, _ = lis.accept()
        ports.append(c.getsockname()[1])
        c.close()
        s.close()
    return ports


def replay(path, *args):
    p = run("trace", "--replay", str(path), "--json", *args)
    recs = [json.loads(l) for l in p.stdout.splitlines()]
    return p, [r for r in recs if r.get("type") == "transition"]


def syn_sent_ports(recs, lport):
    return {r["sport"] for r in recs if r["dport"] == lport and r["newstate"] == "SYN_SENT"}


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_signal_detaches_summarises_and_flushes(tracer, tmp_path, sig):
    """SIGHUP (a closed terminal), SIGTERM and SIGINT all end the run the
    same way: exit 0, the summary, the recording whole, the age socket
    gone. SIGHUP used to kill the tracer: no summary, an empty recording."""
    lis = listener()
    lport = lis.getsockname()[1]
    rec = tmp_path / "hup.rec"
    t = tracer("--rport", str(lport), "--record", str(rec))
    ports = connect_close(lis, 3)
    t.wait(lambda rs: syn_sent_ports(rs, lport) >= set(ports), what="the 3 connects")
    assert os.path.exists(t.age_sock)
    t.stop(sig)
    assert t.returncode == 0, (t.returncode, t.stderr())
    assert " 0 lost" in t.summary()
    assert not os.path.exists(t.age_sock), "age socket left behind"
    p, recs = replay(rec)
    assert p.returncode == 0, p.stderr
    assert syn_sent_ports(recs, lport) == set(ports)
    lis.close()


def test_sigkill_leaves_a_recording_and_no_stale_socket_problem(tracer, tmp_path):
    """kill -9 cannot flush: the recording must already be on disk (the
    header at start, records every poll). The age socket it leaves is
    found stale and replaced by the next tracer. A recording cut inside a
    record replays up to its last whole record and says where it was cut."""
    lis = listener()
    lport = lis.getsockname()[1]
    rec = tmp_path / "kill.rec"
    t = tracer("--rport", str(lport), "--record", str(rec))
    assert os.path.getsize(rec) > 0, "no header on disk at start"
    ports = connect_close(lis, 3)
    # on disk while the recorder runs, within about a poll
    wait_for(lambda: syn_sent_ports(replay(rec)[1], lport) >= set(ports),
             timeout=5, what="the connections to reach the recording")
    t.proc.kill()
    t.proc.wait()
    p, recs = replay(rec)
    assert p.returncode == 0, p.stderr
    assert syn_sent_ports(recs, lport) == set(ports)
    assert os.path.exists(t.age_sock)  # SIGKILL leaves it: nothing can remove it
    # the next tracer at the same path takes the stale socket over
    t2 = tracer("--rport", str(lport), env={"TCPFSM_AGE_SOCK": t.age_sock})
    assert "not publishing" not in t2.stderr(), t2.stderr()
    c = socket.socket(socket.AF_UNIX)
    c.connect(t.age_sock)
    c.close()
    t2.stop()
    # cut inside the last record
    size = os.path.getsize(rec)
    cut = tmp_path / "cut.rec"
    with open(rec, "rb") as f:
        data = f.read()
    cut.write_bytes(data[:size - 40])
    p2, recs2 = replay(cut)
    assert p2.returncode == 1, p2.stderr
    errs = [l for l in p2.stderr.splitlines() if "truncated record" in l]
    assert len(errs) == 1 and f"offset {size - 112}" in errs[0] and str(cut) in errs[0], p2.stderr
    whole = p.stdout.splitlines()
    assert p2.stdout.splitlines() == whole[:len(p2.stdout.splitlines())]
    lis.close()


def as_nobody(*argv):
    subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                    *argv], check=True)


@pytest.fixture
def sticky_dir():
    d = tempfile.mkdtemp(prefix="tcpfsm-sticky-")
    os.chmod(d, 0o1777)
    secret = os.path.join(tempfile.mkdtemp(prefix="tcpfsm-secret-"), "secret")
    with open(secret, "w") as f:
        f.write("root only\n")
    os.chmod(secret, 0o600)
    # planted by another user: a symlink to a root-only file, and a file
    as_nobody("ln", "-s", secret, os.path.join(d, "link"))
    as_nobody("sh", "-c", f"echo theirs > {d}/planted; chmod 666 {d}/planted")
    yield d, secret
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(os.path.dirname(secret), ignore_errors=True)


def writers(d):
    """How each command writes a file there: (name, argv)."""
    return [
        ("record", lambda path, *extra: run("trace", "--lport", "1", "-d", "200ms",
                                            "--no-seed", "--record", path, *extra)),
        ("dump-raw", lambda path, *extra: run("snapshot", "--no-age", "--lport", "1",
                                              "--dump-raw", path, *extra)),
    ]


def test_files_created_safely(sticky_dir):
    """In a sticky world-writable directory, as root: a symlink planted by
    another user is not followed, a file they created is not written into
    (both refused, exit 1, one line naming the file); --force replaces the
    name with a new file of ours; every new file is mode 0600. Before, the
    symlink's target was truncated and the planted file got the data."""
    d, secret = sticky_dir
    for name, write in writers(d):
        for victim in ("link", "planted"):
            path = os.path.join(d, victim)
            before = os.lstat(path)
            p = write(path)
            assert p.returncode == 1, (name, victim, p.returncode, p.stderr)
            err = p.stderr.strip().splitlines()
            assert len(err) == 1 and path in err[0] and "exists" in err[0], (name, err)
            after = os.lstat(path)
            assert (after.st_ino, after.st_size, after.st_uid) == \
                (before.st_ino, before.st_size, before.st_uid), (name, victim)
        assert open(secret).read() == "root only\n"
        fresh = os.path.join(d, f"fresh-{name}")
        p = write(fresh)
        assert p.returncode == 0, (name, p.stderr)
        st = os.lstat(fresh)
        assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o777 == 0o600, (name, oct(st.st_mode))
        assert st.st_size > 0
    # --force: the names replaced by files of ours, the target untouched
    for name, write in writers(d):
        for victim in ("link", "planted"):
            path = os.path.join(d, victim)
            p = write(path, "--force")
            assert p.returncode == 0, (name, victim, p.stderr)
            st = os.lstat(path)
            assert stat.S_ISREG(st.st_mode) and st.st_uid == 0, (name, victim)
            assert st.st_mode & 0o777 == 0o600 and st.st_size > 0, (name, victim)
    assert open(secret).read() == "root only\n"


def test_closed_output_ends_the_run_without_more_traffic():
    """`tcpfsm trace | head -1`: once head has its line and exits, the
    tracer exits within a poll interval, though nothing more happens on
    the host that it traces. It used to wait for the next line to write."""
    lis = listener()
    lport = lis.getsockname()[1]
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen([BIN, "trace", "--json", "--no-seed", "--rport", str(lport)],
                            stdout=subprocess.PIPE, stderr=err,
                            env=dict(os.environ, TCPFSM_AGE_SOCK="/nonexistent/age.sock"))
    try:
        def attached():
            err.seek(0)
            return b"Ctrl-C to stop" in err.read()
        wait_for(attached, timeout=30, what="the tracer to attach")
        connect_close(lis, 1)
        line = proc.stdout.readline()  # what head -1 reads
        assert json.loads(line)["dport"] == lport
        lis.close()  # its LISTEN -> CLOSE is the last record it will see
        time.sleep(0.3)  # let that record be written into the pipe, then nothing more
        proc.stdout.close()  # head exits
        t0 = time.monotonic()
        proc.wait(timeout=10)
        elapsed = time.monotonic() - t0
        assert elapsed < 1.0, f"exited {elapsed:.2f} s after its output closed"
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_closed_terminal_keeps_the_recording(tmp_path):
    """The real hang-up: the tracer runs on a terminal (a pty whose session
    it leads), its table on that terminal, and the terminal is closed. The
    kernel sends SIGHUP; the tracer ends as with Ctrl-C, exit 0, its
    recording whole. It used to die (exit 129) with a 0-byte recording."""
    import pty
    lis = listener()
    lport = lis.getsockname()[1]
    rec = tmp_path / "tty.rec"
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TCPFSM_AGE_SOCK"] = str(tmp_path / "age.sock")
        os.execv(BIN, [BIN, "trace", "--rport", str(lport), "--record", str(rec)])
    seen = b""
    deadline = time.monotonic() + 30
    while b"Ctrl-C to stop" not in seen:
        assert time.monotonic() < deadline, seen
        seen += os.read(fd, 4096)
    ports = connect_close(lis, 3)
    while seen.count(b"SYN_SENT") < 3:
        assert time.monotonic() < deadline, seen
        seen += os.read(fd, 4096)
    os.close(fd)  # the terminal goes away
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    p, recs = replay(rec)
    assert p.returncode == 0, p.stderr
    assert syn_sent_ports(recs, lport) == set(ports)
    assert not os.path.exists(tmp_path / "age.sock")
    lis.close()
