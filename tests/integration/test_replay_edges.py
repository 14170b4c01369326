"""Replays of small recordings written here, record by record (see
src/record.h for the layout): edges the real-traffic fixture does not have.
No root needed."""
import socket
import struct

from conftest import run

REC = struct.Struct("<QQQQQIIIHHBBBBBB2x16s16s16s")
HDR_SIZE = 168
S = 1_000_000_000
ESTABLISHED, SYN_SENT, CLOSE = 1, 2, 7
LO = socket.inet_aton("127.0.0.1") + bytes(12)


def header():
    h = bytearray(HDR_SIZE)
    h[0:8] = b"TCPFSM\0R"
    struct.pack_into("<HHIQQII", h, 8, 1, HDR_SIZE, REC.size, 0, 1_700_000_000 * S, 1, 0)
    return bytes(h)


def state(ts, cookie, old, new, sport):
    return REC.pack(ts, cookie, 1, 0, 0, 100, 100, 4026531840, sport, 80,
                    1, old, new, 2, 2, 0, LO, LO, b"test" + bytes(12))


def test_stuck_at_end_of_replay_is_reported_once(tmp_path):
    """A connection still stuck when the recording ends: its '(at exit)'
    alert is the last word, not followed by the same alert again."""
    path = tmp_path / "stuck.bin"
    path.write_bytes(header()
                     + state(1 * S, 1, CLOSE, SYN_SENT, 5000)
                     + state(1 * S + 1000, 1, SYN_SENT, ESTABLISHED, 5000)
                     # later traffic moves the replay's clock past 1.5 s
                     + state(2 * S + 5_000_000, 2, CLOSE, SYN_SENT, 5001)
                     + state(3 * S, 3, CLOSE, SYN_SENT, 5002))
    p = run("trace", "--replay", str(path), "--stuck", "ESTABLISHED=1500ms")
    assert p.returncode == 0, p.stderr
    stuck = [l for l in p.stdout.splitlines() if l.startswith("STUCK")]
    assert stuck and all("cookie 1 " in l for l in stuck), stuck
    assert stuck[-1].startswith("STUCK (at exit) ESTABLISHED"), stuck
    assert sum("(at exit)" in l for l in stuck) == 1, stuck


def test_record_to_stdout_is_refused():
    """The recording would interleave with the text lines on stdout."""
    p = run("trace", "--record", "-")
    assert p.returncode == 2 and p.stdout == ""
    assert "--record" in p.stderr.splitlines()[0]
