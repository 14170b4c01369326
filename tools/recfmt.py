"""tcpfsm's recording format (src/record.h), for the Python that writes
recordings: tests/integration/test_replay_edges.py and tools/bench-engine.py.

REC packs one record (struct tcpfsm_event, little-endian, fields in
declaration order); header() makes a version-1 header (168 bytes: no boot
id, which a reader treats as unknown).
"""
import struct

REC = struct.Struct("<QQQQQIIIHHBBBBBB2x16s16s16s")
assert REC.size == 112
HDR_SIZE = 168
MAGIC = b"TCPFSM\0R"
VERSION = 1
F_MINISOCKS = 0x1  # header flag: timer (TIME_WAIT/SYN_RECV) events enabled


def header(start_mono_ns=0, start_real_ns=1_700_000_000 * 10**9, flags=F_MINISOCKS):
    """A version-1 header: records' ts_ns are on the clock start_mono_ns
    reads, start_real_ns is the wall time at that instant."""
    h = bytearray(HDR_SIZE)
    h[0:8] = MAGIC
    struct.pack_into("<HHIQQII", h, 8, VERSION, HDR_SIZE, REC.size, start_mono_ns,
                     start_real_ns, flags, 0)
    return bytes(h)
