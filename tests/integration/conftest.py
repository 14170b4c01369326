"""Shared fixtures for tcpfsm's root integration tests.

Every test loads the real BPF program and drives real TCP traffic. Waiting
is always on a condition (a line in the tracer's output, a socket state),
never a bare sleep standing in for synchronisation.
"""
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

from netns import Netns

BIN = os.environ.get("TCPFSM_BIN", os.path.join(os.path.dirname(__file__), "../../build/tcpfsm"))


def run(*args, check=False, env=None, timeout=30):
    """`tcpfsm ARGS...` to completion, output captured as text; with
    check=True a non-zero exit fails the test (with the tool's stderr)."""
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"tcpfsm {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def stuck_lines(text, start="STUCK"):
    """The STUCK alert lines of a table, each without its leading
    timestamp (every alert carries the time it fired, as the table's lines
    do), those whose rest starts with start."""
    out = []
    for line in text.splitlines():
        ts, _, rest = line.partition(" ")
        if rest.startswith("STUCK") and rest.startswith(start):
            out.append(rest)
    return out


# records of a JSON stream about the stream itself: losses, the summary
META = ("lost", "summary")


def jsonl(text):
    """A JSON stream's records, its "lost" and "summary" records left out."""
    return [o for o in map(json.loads, text.splitlines()) if o.get("type") not in META]


def wait_for(cond, timeout=10.0, interval=0.01, what="condition"):
    """Poll cond() until it returns a truthy value; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Tracer:
    """A running `tcpfsm CMD --json ...` whose output is read back."""

    def __init__(self, cmd="trace", args=(), env=None):
        self.dir = tempfile.mkdtemp(prefix="tcpfsm-test-")
        self.out_path = os.path.join(self.dir, "out.jsonl")
        self.err_path = os.path.join(self.dir, "err.txt")
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        full_env = dict(os.environ)
        full_env.setdefault("TCPFSM_AGE_SOCK", os.path.join(self.dir, "age.sock"))
        if env:
            full_env.update(env)
        self.age_sock = full_env["TCPFSM_AGE_SOCK"]  # where it publishes ages
        self.argv = [BIN, cmd, "--json", "-T", "mono", *args]
        self.proc = subprocess.Popen(self.argv, stdout=self.out, stderr=self.err, env=full_env)
        self.returncode = None
        wait_for(lambda: "Ctrl-C to stop" in self.stderr() or self.proc.poll() is not None,
                 timeout=30, what="the tracer to attach")
        if self.proc.poll() is not None:
            raise AssertionError(f"tracer exited early ({self.proc.returncode}): {self.stderr()}")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def all_records(self):
        """Every complete JSON line written so far (each must parse)."""
        with open(self.out_path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        return [json.loads(l) for l in lines[:-1] if l]

    def records(self):
        """The same without the stream's "lost" and "summary" records."""
        return [r for r in self.all_records() if r.get("type") not in META]

    def wait(self, pred, timeout=15.0, what="records"):
        """Wait until pred(records) is truthy; return its value."""
        return wait_for(lambda: pred(self.records()), timeout=timeout, interval=0.05, what=what)

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.returncode = self.proc.returncode
        self.out.close()
        self.err.close()
        return self.records()

    def summary(self):
        lines = [l for l in self.stderr().splitlines() if " events, " in l and " lost" in l]
        assert lines, f"no closing summary on stderr: {self.stderr()!r}"
        return lines[-1]

    def assert_nothing_lost(self):
        s = self.summary()
        assert " 0 lost" in s, s


CLONE_NEWNET = 0x40000000


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes about a minute (TIME_WAIT expiry)")


@pytest.fixture
def tracer():
    started = []

    def start(*args, cmd="trace", env=None):
        t = Tracer(cmd, args, env)
        started.append(t)
        return t

    yield start
    illegal = []
    for t in started:
        if t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()
        # every scenario is real TCP: the kernel never makes a transition
        # the engine's state machine calls illegal (scanned line by line, not
        # parsed: an unfiltered tracer's output on a busy host can be GBs)
        with open(t.out_path, "rb") as f:
            illegal += [l for l in f if b'"illegal":true' in l][:3]
        shutil.rmtree(t.dir, ignore_errors=True)
    assert not illegal, f"transitions marked illegal: {illegal}"


@pytest.fixture
def netns():
    """netns(): a network namespace of the test's own (lo up), deleted at the end."""
    made = []

    def make():
        ns = Netns("l")
        made.append(ns)
        return ns

    yield make
    for ns in made:
        ns.delete()


@pytest.fixture
def inside_netns():
    """The test's own thread (and what it starts) inside a fresh network
    namespace (lo up) for the test's duration: its sockets, ss and loadgen
    are there, and a tracer given --netns NS.inode sees none of the other
    tests' traffic, filtered in the kernel before it can fill a small ring."""
    libc = ctypes.CDLL(None, use_errno=True)
    ns = Netns("in")
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{ns.name}", os.O_RDONLY)
    try:
        if libc.setns(there, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns into the test's namespace")
        yield ns
    finally:
        if libc.setns(home, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(there)
        os.close(home)
        ns.delete()


@pytest.fixture
def peers():
    """peers(ns, name): a peer.py process in ns, closed at the end."""
    started = []

    def start(ns, name):
        p = ns.peer(name)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


def kill_time_wait(ns, port):
    """End a TIME_WAIT minisocket now (sock_diag destroy: tcp_abort)."""
    ns.exec("ss", "-K", "state", "time-wait", f"sport = :{port}")


def listener(family=socket.AF_INET, addr="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 0))
    s.listen(16)
    return s


# `ss -tanie`, the reference the tests compare with (one parser for all).
import ipaddress  # noqa: E402
import re  # noqa: E402

SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2",
    "TIME-WAIT": "TIME_WAIT", "UNCONN": "CLOSE", "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK", "LISTEN": "LISTEN", "CLOSING": "CLOSING",
}


def norm_addr(a):
    """ss's address text: brackets and %scope dropped, IPv4-mapped as IPv4,
    None for "*"."""
    a = a.strip("[]").split("%")[0]
    if a == "*":
        return None
    ip = ipaddress.ip_address(a)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


def split_endpoint(ep):
    addr, _, port = ep.rpartition(":")
    return norm_addr(addr), 0 if port == "*" else int(port)


def parse_ss(text):
    """ss -tanie: one dict per socket (continuation lines skipped)."""
    out = []
    for line in text.splitlines():
        if not line or line[0].isspace():
            continue
        tok = line.split()
        if tok[0] not in SS_STATES or len(tok) < 5:
            continue
        laddr, lport = split_endpoint(tok[3])
        raddr, rport = split_endpoint(tok[4])
        m = re.search(r"\bsk:([0-9a-f]+)", line)
        ino = re.search(r"\bino:(\d+)", line)
        out.append({
            "state": SS_STATES[tok[0]], "local": laddr, "lport": lport,
            "remote": raddr, "rport": rport,
            "cookie": int(m.group(1), 16) if m else None,
            "inode": int(ino.group(1)) if ino else 0,
            "rqueue": int(tok[1]), "wqueue": int(tok[2]),
        })
    return out


def ss_sockets():
    """Every TCP socket of this namespace, as parse_ss gives them."""
    return parse_ss(subprocess.run(["ss", "-tanie"], capture_output=True, text=True,
                                   check=True).stdout)


def ss_cookies():
    """{(laddr, lport, raddr, rport): cookie} for every TCP socket, from ss -tanie."""
    return {(s["local"], s["lport"], s["remote"], s["rport"]): s["cookie"]
            for s in ss_sockets() if s["cookie"] is not None}


def by_cookie(records, port):
    """Transitions touching `port`, grouped by cookie, in order."""
    conns = {}
    for r in records:
        if r.get("type") != "transition":
            continue
        if port not in (r["sport"], r["dport"]):
            continue
        conns.setdefault(r["cookie"], []).append(r)
    return conns


def path(transitions):
    return [(t["oldstate"], t["newstate"]) for t in transitions]
