#!/usr/bin/python3
"""Replay benchmark of tcpfsm's user-space pipeline (no root needed).

Writes synthetic recordings in tcpfsm's record format (src/core/record.h) and
replays them through the real binary:

1. throughput: events per second per core through decode + reorder +
   lifecycle engine + stats (`tcpfsm stats --replay`), and for reference
   through `life --json` and `trace` (formatting every line), measured as
   events / (user + system CPU time) of the tcpfsm process;
2. memory: bytes per tracked connection, from the peak RSS of replaying N
   connections that open and never close, minus that of the same number of
   connections that close at once, divided by N.

Usage: tools/bench-engine.py [BUILD_DIR] [--conns N] [--open N] [--rounds R]
"""
import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

import recfmt  # tools/recfmt.py: the script's own directory
from recfmt import (REC, header, STATE, TW_START, TW_CANCEL, TW_EXPIRE, REQ_START,
                    REQ_CANCEL, F_IN_TASK, F_CTX_KNOWN as F_CTX, F_DEADLINE)

ST = {name: getattr(recfmt, name) for name in (
    "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
    "CLOSE_WAIT", "LAST_ACK", "LISTEN")}
LO = socket.inet_aton("127.0.0.1") + bytes(12)


def rec(ts, cookie, kind, old, new, sport, dport, flags=F_CTX, aux=0, pid=4242):
    return REC.pack(ts, cookie, 1, aux, 0, pid, pid, 4026531840, sport, dport,
                    kind, old, new, 2, flags, 0, LO, LO, b"loadgen\0\0\0\0\0\0\0\0\0")


def connection(i, t0, close=True):
    """One loopback connection, both ends, as the kernel reports it."""
    c, s = 2 * i + 10, 2 * i + 11
    cp, sp = 10000 + i % 50000, 8080
    us = 1000
    ev = [
        rec(t0, c, STATE, ST["CLOSE"], ST["SYN_SENT"], 0, sp, F_CTX | F_IN_TASK),
        rec(t0 + 10 * us, 0, REQ_START, 0, ST["SYN_RECV"], sp, cp, aux=1),
        rec(t0 + 20 * us, c, STATE, ST["SYN_SENT"], ST["ESTABLISHED"], cp, sp),
        rec(t0 + 30 * us, 0, REQ_CANCEL, 0, ST["SYN_RECV"], sp, cp, aux=1),
        rec(t0 + 31 * us, s, STATE, ST["LISTEN"], ST["SYN_RECV"], sp, cp),
        rec(t0 + 32 * us, s, STATE, ST["SYN_RECV"], ST["ESTABLISHED"], sp, cp),
    ]
    if not close:
        return ev
    ev += [
        rec(t0 + 100 * us, c, STATE, ST["ESTABLISHED"], ST["FIN_WAIT1"], cp, sp, F_CTX | F_IN_TASK),
        rec(t0 + 101 * us, s, STATE, ST["ESTABLISHED"], ST["CLOSE_WAIT"], sp, cp),
        rec(t0 + 140 * us, c, STATE, ST["FIN_WAIT1"], ST["FIN_WAIT2"], cp, sp),
        rec(t0 + 141 * us, c, TW_START, 0, ST["FIN_WAIT2"], cp, sp, F_CTX | F_DEADLINE, 60 * 10**9),
        rec(t0 + 142 * us, c, STATE, ST["FIN_WAIT2"], ST["CLOSE"], 0, sp),
        rec(t0 + 150 * us, s, STATE, ST["CLOSE_WAIT"], ST["LAST_ACK"], sp, cp, F_CTX | F_IN_TASK),
        rec(t0 + 151 * us, s, STATE, ST["LAST_ACK"], ST["CLOSE"], sp, cp),
    ]
    return ev


def write_stream(path, n, close=True, spacing_ns=20_000):
    """n connections started spacing_ns apart; TIME_WAIT ends 60 s later."""
    t = 2_000_000_000
    with open(path, "wb") as f:
        f.write(header(start_mono_ns=1_000_000_000))
        f.write(rec(t - 1000, 1, STATE, ST["CLOSE"], ST["LISTEN"], 8080, 0, F_CTX | F_IN_TASK))
        ends = []
        events = 1
        for i in range(n):
            t0 = t + i * spacing_ns
            # TIME_WAIT timers due by now end, in time order
            while ends and ends[0][0] <= t0:
                te, ck, cp = ends.pop(0)
                f.write(rec(te, ck, TW_CANCEL, 0, ST["TIME_WAIT"], cp, 8080, F_CTX | F_DEADLINE))
                f.write(rec(te + 100, ck, TW_EXPIRE, 0, ST["TIME_WAIT"], cp, 8080))
                events += 2
            evs = connection(i, t0, close)
            f.write(b"".join(evs))
            events += len(evs)
            if close:
                ends.append((t0 + 61 * 10**9, 2 * i + 10, 10000 + i % 50000))
        for te, ck, cp in ends:
            f.write(rec(te, ck, TW_CANCEL, 0, ST["TIME_WAIT"], cp, 8080, F_CTX | F_DEADLINE))
            f.write(rec(te + 100, ck, TW_EXPIRE, 0, ST["TIME_WAIT"], cp, 8080))
            events += 2
    return events


def run(binary, args):
    """(cpu seconds, stderr) of one tcpfsm run (peak RSS: peak_rss_kib)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([binary, *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"bench-engine: {' '.join(args)} failed: {p.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, p.stderr


def peak_rss_kib(binary, args):
    """Peak RSS of one run, in its own child so ru_maxrss is its own."""
    code = ("import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, binary, *args],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--conns", type=int, default=200_000)
    ap.add_argument("--open", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    binary = os.path.join(a.build, "tcpfsm")
    tmp = tempfile.mkdtemp(prefix="tcpfsm-bench-")
    churn = os.path.join(tmp, "churn.bin")
    n_ev = write_stream(churn, a.conns)
    print(f"stream: {a.conns} connections, {n_ev} events, "
          f"{os.path.getsize(churn) / 1e6:.0f} MB ({churn})")
    for name, args in (("stats (decode+reorder+lifecycle+stats)", ["stats", "--replay", churn]),
                       ("life --json", ["life", "--json", "--replay", churn]),
                       ("trace (table, every line)", ["trace", "--replay", churn])):
        rates = []
        for _ in range(a.rounds):
            cpu, err = run(binary, args)
            rates.append(n_ev / cpu)
        rates.sort()
        print(f"  {name:40s} median {rates[len(rates) // 2] / 1e6:6.2f} M events/s per core"
              f"  (rounds: {', '.join(f'{r / 1e6:.2f}' for r in rates)})")

    opened = os.path.join(tmp, "open.bin")
    closed = os.path.join(tmp, "closed.bin")
    write_stream(opened, a.open, close=False)
    # the baseline: TIME_WAIT lasts 61 s here, so 200 ms apart about 300
    # connections overlap, negligible next to the a.open held open above
    write_stream(closed, a.open, close=True, spacing_ns=200_000_000)
    rss_open = peak_rss_kib(binary, ["stats", "--replay", opened])
    rss_closed = peak_rss_kib(binary, ["stats", "--replay", closed])
    # each connection is two tracked sockets: the client and the server child
    per = (rss_open - rss_closed) * 1024 / (2 * a.open)
    print(f"memory: {a.open} connections ({2 * a.open} sockets) held open: peak RSS "
          f"{rss_open / 1024:.0f} MiB; the same opened and closed: {rss_closed / 1024:.0f} MiB "
          f"-> {per:.0f} bytes per tracked socket")
    print(f"command: {' '.join(sys.argv)}")
    for f in (churn, opened, closed):
        os.unlink(f)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
