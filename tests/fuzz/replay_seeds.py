#!/usr/bin/python3
"""Write fuzz_replay's seed corpus: small recordings in the format of src/core/record.h.

  /usr/bin/python3 tests/fuzz/replay_seeds.py tests/fuzz/corpus-replay

Deterministic: running it again rewrites the same bytes. The real recording
tests/data/replay/loopback.bin is copied in as is (a 168-byte header, from
before boot_id); the rest are synthetic, 184-byte headers:

  lifecycles.bin    a listener, a request whose child closes passively, an
                    active close through FIN_WAIT2 and TIME_WAIT to expiry,
                    an unbound connect that learns its port, a refused one,
                    a TIME_WAIT killed early and reused, a SYN-ACK timeout,
                    an orphaned FIN_WAIT2, a loss marker, IPv6 and v4-mapped
  lifecycles-*.bin  the same with fuzz_replay's option bits in the header's
                    reserved word (see tests/fuzz/fuzz_replay.c): JSON,
                    --stuck, --max-conns 16, stats --by and --interval...
  unsorted.bin      the same records out of order (by up to 4 s)
  truncated.bin     lifecycles.bin cut inside its last record
  bad-record.bin    a record whose kind is out of range, then more
  header-only.bin   a header and no record
  header-v1.bin     a 168-byte header only
  header-cut.bin    a header cut short

The corpus also holds, not made here, the minimized inputs of the bugs
fuzz_replay found (stats-interval-clock-jump.bin, wall-time-overflow.bin,
stuck-doubling-wraps.bin): keep them when re-running this.
"""
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tools"))
import recfmt  # noqa: E402  (the format, shared with the tests and bench-engine.py)
from recfmt import (REC, STATE, TW_START, TW_CANCEL, TW_EXPIRE, REQ_START,  # noqa: E402
                    REQ_CANCEL, REQ_EXPIRE, LOST, ESTABLISHED, SYN_SENT, SYN_RECV,
                    FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING,
                    FIN_WAIT1, F_IN_TASK, F_CTX_KNOWN, F_BYTES, F_DEADLINE, F_DEAD)

MS = 1000000
S = 1000000000
NETNS = 4026531840

# fuzz_replay's option bits (the header's reserved word)
O_JSON = 1 << 0
O_TS_MONO = 1 << 1
O_TS_REL = 2 << 1
O_STUCK = 1 << 3
O_MAX_CONNS = 1 << 4
O_COUNT = 1 << 5
O_DURATION = 1 << 6
O_STATE = 1 << 7
O_V4 = 1 << 8
O_V6 = 2 << 8
O_ADDR = 3 << 8
O_PORTS = 1 << 10
O_PID = 1 << 11
O_COMM = 1 << 12
O_NETNS = 1 << 13
O_BY = 14  # shift: 1 lport .. 6 cgroup
O_INTERVAL = 1 << 17
O_LISTENERS = 1 << 18
O_WIDE = 1 << 19
O_TS_ISO = 3 << 1


def header(reserved=0, boot_id=bytes(range(1, 17))):
    """The seeds' header: reserved holds fuzz_replay's option bits; the
    boot id is not this boot's (None: the 168-byte header, without one)."""
    return recfmt.header(1 * S, 1700000000 * S, reserved=reserved, hostname=b"fuzzhost",
                         release=b"6.1.0-fuzz", boot_id=boot_id)


def v4(a, b, c, d):
    return bytes([a, b, c, d]) + bytes(12)


def v6(*words):
    return b"".join(struct.pack(">H", w) for w in words)


LO = v4(127, 0, 0, 1)
LO6 = v6(0, 0, 0, 0, 0, 0, 0, 1)
MAPPED = v6(0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001)


def ev(kind, ts, cookie=0, old=0, new=0, sport=0, dport=0, family=2,
       saddr=LO, daddr=LO, flags=0, aux=0, aux2=0, pid=0, tid=0,
       comm=b"", cgroup=0, retrans=0, netns=NETNS):
    if kind == STATE:
        flags |= F_CTX_KNOWN
    return REC.pack(ts, cookie, cgroup, aux, aux2, pid, tid, netns, sport, dport,
                    kind, old, new, family, flags, retrans, saddr, daddr,
                    comm.ljust(16, b"\0"))


def task(comm=b"python3", pid=4242):
    return dict(flags=F_IN_TASK, pid=pid, tid=pid, comm=comm, cgroup=77)


def lifecycles():
    t = 2 * S
    r = []
    # a listener on 18080, owned by python3
    r.append(ev(STATE, t, 10, CLOSE, LISTEN, 18080, 0, **task()))
    # a SYN: the request's timer, then its child, which the peer closes
    r.append(ev(REQ_START, t + 1 * MS, 0, 0, SYN_RECV, 18080, 40000, aux=10))
    r.append(ev(REQ_CANCEL, t + 2 * MS, 0, 0, SYN_RECV, 18080, 40000))
    r.append(ev(STATE, t + 2 * MS + 100, 11, SYN_RECV, ESTABLISHED, 18080, 40000))
    r.append(ev(STATE, t + 50 * MS, 11, ESTABLISHED, CLOSE_WAIT, 18080, 40000))
    r.append(ev(STATE, t + 250 * MS, 11, CLOSE_WAIT, LAST_ACK, 18080, 40000, **task()))
    r.append(ev(STATE, t + 251 * MS, 11, LAST_ACK, CLOSE, 18080, 40000,
                flags=F_BYTES, aux=7, aux2=12))
    # an unbound connect: its port comes with the next record
    r.append(ev(STATE, t + 1 * MS, 20, CLOSE, SYN_SENT, 0, 18080, **task(b"curl", 99)))
    r.append(ev(STATE, t + 1 * MS + 500, 20, SYN_SENT, ESTABLISHED, 40000, 18080))
    r.append(ev(STATE, t + 49 * MS, 20, ESTABLISHED, FIN_WAIT1, 40000, 18080, **task(b"curl", 99)))
    r.append(ev(STATE, t + 50 * MS, 20, FIN_WAIT1, FIN_WAIT2, 40000, 18080))
    r.append(ev(TW_START, t + 51 * MS, 20, 0, TIME_WAIT, 40000, 18080,
                flags=F_DEADLINE, aux=60 * S))
    r.append(ev(STATE, t + 51 * MS, 20, FIN_WAIT2, CLOSE, 40000, 18080,
                flags=F_BYTES, aux=7, aux2=1))
    r.append(ev(TW_CANCEL, t + 60 * S + 51 * MS, 20, 0, TIME_WAIT, 40000, 18080,
                flags=F_DEADLINE, aux=0))
    r.append(ev(TW_EXPIRE, t + 60 * S + 51 * MS, 20, 0, TIME_WAIT, 40000, 18080))
    # a refused connect, IPv6
    r.append(ev(STATE, t + 3 * MS, 30, CLOSE, SYN_SENT, 41000, 18082, family=10,
                saddr=LO6, daddr=LO6, **task(b"curl", 99)))
    r.append(ev(STATE, t + 3 * MS + 20000, 30, SYN_SENT, CLOSE, 41000, 18082,
                family=10, saddr=LO6, daddr=LO6))
    # a TIME_WAIT killed early (no cookie: keyed by tuple), then reused
    r.append(ev(TW_START, t + 4 * MS, 0, 0, TIME_WAIT, 42000, 18081, flags=F_DEADLINE, aux=60 * S))
    r.append(ev(TW_CANCEL, t + 5 * MS, 0, 0, TIME_WAIT, 42000, 18081))
    r.append(ev(STATE, t + 5 * MS + 10, 31, CLOSE, SYN_SENT, 42000, 18081, **task(b"curl", 99)))
    r.append(ev(STATE, t + 6 * MS, 31, SYN_SENT, ESTABLISHED, 42000, 18081))
    r.append(ev(STATE, t + 7 * MS, 31, ESTABLISHED, CLOSE, 42000, 18081))
    # a SYN-ACK timeout, v4-mapped
    r.append(ev(REQ_START, t + 8 * MS, 0, 0, SYN_RECV, 18080, 43000, family=10,
                saddr=MAPPED, daddr=MAPPED, aux=10))
    r.append(ev(REQ_START, t + 1 * S, 0, 0, SYN_RECV, 18080, 43000, family=10,
                saddr=MAPPED, daddr=MAPPED, aux=10, retrans=1))
    r.append(ev(REQ_EXPIRE, t + 3 * S, 0, 0, SYN_RECV, 18080, 43000, family=10,
                saddr=MAPPED, daddr=MAPPED, retrans=2))
    # an orphaned FIN_WAIT2 held by the full socket, then a minisocket
    r.append(ev(STATE, t + 9 * MS, 40, CLOSE, SYN_SENT, 44000, 80, daddr=v4(10, 0, 0, 1),
                **task(b"wget", 7)))
    r.append(ev(STATE, t + 10 * MS, 40, SYN_SENT, ESTABLISHED, 44000, 80, daddr=v4(10, 0, 0, 1)))
    r.append(ev(STATE, t + 11 * MS, 40, ESTABLISHED, FIN_WAIT1, 44000, 80, daddr=v4(10, 0, 0, 1),
                **task(b"wget", 7)))
    r.append(ev(STATE, t + 12 * MS, 40, FIN_WAIT1, FIN_WAIT2, 44000, 80, daddr=v4(10, 0, 0, 1),
                flags=F_DEAD))
    r.append(ev(TW_START, t + 13 * MS, 40, 0, FIN_WAIT2, 44000, 80, daddr=v4(10, 0, 0, 1),
                flags=F_DEADLINE, aux=60 * S))
    r.append(ev(STATE, t + 13 * MS, 40, FIN_WAIT2, CLOSE, 44000, 80, daddr=v4(10, 0, 0, 1)))
    r.append(ev(TW_START, t + 2 * S, 40, 0, TIME_WAIT, 44000, 80, daddr=v4(10, 0, 0, 1),
                flags=F_DEADLINE, aux=60 * S))
    # the live run lost records here
    r.append(ev(LOST, t + 2 * S + 1, family=0, aux=3))
    # the listener closes
    r.append(ev(STATE, t + 4 * S, 10, LISTEN, CLOSE, 18080, 0, **task()))
    # a connection seen mid-life, a gap, and a duplicate
    r.append(ev(STATE, t + 4 * S + 1, 50, ESTABLISHED, CLOSE_WAIT, 45000, 443,
                daddr=v4(192, 0, 2, 1)))
    r.append(ev(STATE, t + 4 * S + 1, 50, ESTABLISHED, CLOSE_WAIT, 45000, 443,
                daddr=v4(192, 0, 2, 1)))
    r.append(ev(STATE, t + 5 * S, 50, CLOSING, CLOSE, 45000, 443, daddr=v4(192, 0, 2, 1)))
    return r


def marks(reserved=0):
    """A version-2 recording as a live run writes it: a filter in the
    header, seeded sockets, steps, a loss with its kinds, a connection
    found gone, the flush and the end."""
    filt = recfmt.filter_bytes(lports=(18080, 45000), state_mask=(1 << CLOSE_WAIT) | (1 << LAST_ACK),
                               addrs=((2, 8, bytes([127]) + bytes(15)),))
    h = recfmt.header_v2(1 * S, 1700000000 * S, reserved=reserved, hostname=b"fuzzhost",
                         release=b"6.1.0-fuzz", boot_id=bytes(range(1, 17)), filt=filt)
    r = [ev(recfmt.SEED, 1 * S + MS, 20, 0, ESTABLISHED, 18080, 41000, pid=4242,
            comm=b"python3", cgroup=77),
         ev(recfmt.SEED, 1 * S + MS, 21, 0, TIME_WAIT, 45001, 18080, flags=1, aux=30 * S),
         ev(recfmt.SEED, 1 * S + MS, 22, 0, ESTABLISHED, 18080, 41001),
         ev(recfmt.SEED_DONE, 1 * S + 2 * MS, family=0)]
    for i, rec in enumerate(sorted(lifecycles(), key=ts_of)):
        r.append(rec)
        r.append(ev(recfmt.STEP, ts_of(rec) - 10 * MS, family=0))
        if i == 3:
            r.append(ev(LOST, ts_of(rec) + 1, family=0, aux=7, aux2=4, cookie=2, cgroup=1,
                        flags=recfmt.LOST_F_KINDS))
            r.append(ev(recfmt.GONE, 0, 22, family=0))
            r.append(ev(recfmt.RECONCILE, ts_of(rec), family=0))
    r.append(ev(STATE, 4 * S, 20, ESTABLISHED, CLOSE_WAIT, 18080, 41000))
    r.append(ev(recfmt.FLUSH, 6 * S, family=0))
    r.append(ev(recfmt.END, 6 * S, family=0))
    return h + b"".join(r)


def ts_of(rec):
    return REC.unpack(rec)[0]


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    d = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(d, exist_ok=True)
    shutil.copyfile(os.path.join(here, "..", "data", "replay", "loopback.bin"),
                    os.path.join(d, "loopback.bin"))
    # in arrival order, as a recording is (sorted: stable, by timestamp)
    recs = b"".join(sorted(lifecycles(), key=ts_of))
    write(d, "lifecycles.bin", header() + recs)
    variants = {
        "json-stuck": O_JSON | O_TS_MONO | O_STUCK | O_LISTENERS,
        "evict": O_MAX_CONNS | O_TS_REL | (3 << O_BY) | O_INTERVAL,
        "filters": O_ADDR | O_PORTS | O_STATE | O_COMM | O_NETNS | (4 << O_BY),
        "cgroup-json": O_JSON | (6 << O_BY) | O_INTERVAL | O_V6,
        "count": O_COUNT | O_DURATION | O_V4 | O_PID | (1 << O_BY),
        "wide-iso": O_WIDE | O_TS_ISO | O_STUCK | O_LISTENERS,
    }
    for name, bits in variants.items():
        write(d, "lifecycles-%s.bin" % name, header(bits) + recs)
    # as written above: timestamps going back by up to 4 s
    write(d, "unsorted.bin", header() + b"".join(lifecycles()))
    write(d, "truncated.bin", (header() + recs)[:-40])
    bad = ev(9, 3 * S, 60, CLOSE, SYN_SENT, 1, 2)
    write(d, "bad-record.bin", header() + recs[:REC.size * 3] + bad + recs[REC.size * 3:REC.size * 6])
    write(d, "marks.bin", marks())
    write(d, "marks-json.bin", marks(O_JSON | O_STUCK | O_TS_MONO))
    write(d, "header-only.bin", header())
    write(d, "header-v1.bin", header(boot_id=None))
    write(d, "header-cut.bin", header()[:100])


if __name__ == "__main__":
    main()
