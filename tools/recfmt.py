"""tcpfsm's recording format (src/record.h, include/tcpfsm.h), for the
Python that writes recordings: tests/integration/test_replay_edges.py,
tests/fuzz/replay_seeds.py and tools/bench-engine.py.

REC packs one record (struct tcpfsm_event, little-endian, fields in
declaration order); header() makes a version-1 header, 168 bytes (no boot
id, which a reader treats as unknown) or, given a boot id, 184.
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
