"""tcpfsm's recording format (src/core/record.h, include/tcpfsm.h), for the
Python that writes recordings: tests/integration/test_replay_edges.py,
tests/fuzz/replay_seeds.py and tools/bench-engine.py.

REC packs one record (struct tcpfsm_event, little-endian, fields in
declaration order); header() makes a version-1 header, 168 bytes (no boot
id, which a reader treats as unknown) or, given a boot id, 184;
header_v2() a version-2 header, 576 bytes, with the run's filter.
"""
import struct

REC = struct.Struct("<QQQQQIIIHHBBBBBB2x16s16s16s")
assert REC.size == 112
HDR_SIZE_V1 = 168  # before boot_id
HDR_SIZE = 184
STR_LEN = 64       # hostname, release: NUL-padded
MAGIC = b"TCPFSM\0R"
VERSION = 1
F_MINISOCKS = 0x1  # header flag: timer (TIME_WAIT/SYN_RECV) events enabled

# record kinds (TCPFSM_EV_*)
STATE, TW_START, TW_CANCEL, TW_EXPIRE, REQ_START, REQ_CANCEL, REQ_EXPIRE, LOST = range(1, 9)
# tcpfsm's own, in version-2 files (RECORD_EV_*)
SEED, SEED_DONE, STEP, GONE, RECONCILE, FLUSH, END = range(64, 71)
LOST_F_KINDS = 0x1  # a LOST record's flag: aux2, cookie, cgroup_id hold its kinds
HDR_SIZE_V2 = 576
F_STEPS, F_FILTER = 0x4, 0x8  # header flags
# states (the kernel's TCP_*; 0: unknown)
(UNKNOWN, ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT,
 CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV) = range(13)
# record flags (TCPFSM_F_*)
F_IN_TASK, F_CTX_KNOWN, F_BYTES, F_DEADLINE, F_DEAD = 1, 2, 4, 8, 16


def header(start_mono_ns=0, start_real_ns=1_700_000_000 * 10**9, flags=F_MINISOCKS,
           reserved=0, hostname=b"", release=b"", boot_id=None):
    """A version-1 header: records' ts_ns are on the clock start_mono_ns
    reads, start_real_ns is the wall time at that instant; reserved is the
    word the reader ignores (fuzz_replay's options). With boot_id (16
    bytes) it is the 184-byte header, without it the 168-byte one."""
    size = HDR_SIZE_V1 if boot_id is None else HDR_SIZE
    h = MAGIC + struct.pack("<HHIQQII", VERSION, size, REC.size, start_mono_ns,
                            start_real_ns, flags, reserved)
    h += hostname.ljust(STR_LEN, b"\0") + release.ljust(STR_LEN, b"\0")
    if boot_id is not None:
        assert len(boot_id) == 16, boot_id
        h += boot_id
    assert len(h) == size
    return h


def filter_bytes(family=0, lports=(), rports=(), addrs=(), pid=None, comm=None,
                 netns=None, state_mask=0):
    """The header's filter (392 bytes at 184); addrs: (family, prefix, 16 bytes)."""
    b = struct.pack("<BBBBBBBxIIII", family, len(lports), len(rports), len(addrs),
                    pid is not None, comm is not None, netns is not None,
                    pid or 0, netns or 0, state_mask, 0)
    b += struct.pack("<8H", *(list(lports) + [0] * (8 - len(lports))))
    b += struct.pack("<8H", *(list(rports) + [0] * (8 - len(rports))))
    b += (comm or b"").ljust(16, b"\0")
    for fam, prefix, addr in addrs:
        b += struct.pack("<BB", fam, prefix) + addr + b"\0\0"
    b += bytes(20 * (16 - len(addrs)))
    assert len(b) == HDR_SIZE_V2 - HDR_SIZE, len(b)
    return b


def header_v2(start_mono_ns=0, start_real_ns=1_700_000_000 * 10**9,
              flags=F_MINISOCKS | F_STEPS | F_FILTER, reserved=0, hostname=b"",
              release=b"", boot_id=bytes(16), filt=None):
    """A version-2 header, as this build writes: the filter after the boot id."""
    h = MAGIC + struct.pack("<HHIQQII", 2, HDR_SIZE_V2, REC.size, start_mono_ns,
                            start_real_ns, flags, reserved)
    h += hostname.ljust(STR_LEN, b"\0") + release.ljust(STR_LEN, b"\0") + boot_id
    h += filt if filt is not None else filter_bytes()
    assert len(h) == HDR_SIZE_V2
    return h
