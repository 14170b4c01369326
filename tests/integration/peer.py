"""A TCP peer driven line by line over stdin/stdout, for the scenario tests.

Started inside a network namespace (`ip netns exec NS python3 peer.py NAME`),
it owns the sockets of one side of a scenario, so the process that owns them
is known (its pid is printed first). Every command is one line; every reply
is one line, "OK ..." or "ERR ERRNO-NAME ...", so the test synchronises on
replies, never on sleeps. The only sleeps here are the durations under test
(hold).

Commands (NAME is a socket name chosen by the test):
  listen NAME ADDR PORT           bind (SO_REUSEADDR) and listen
  accept LNAME NAME               accept one connection -> OK RADDR RPORT
  connect NAME ADDR PORT [LPORT]  connect (bound to LPORT if given) -> OK LPORT
  reconnect NAME ADDR PORT        connect NAME's socket again (after a failed
                                  connect) -> OK LPORT
  send NAME TEXT                  send TEXT
  recv NAME N                     read up to N bytes -> OK TEXT
  eof NAME                        read until the peer's FIN
  shutdown NAME                   shutdown(SHUT_WR)
  shutdown2 NAME NAME             shutdown(SHUT_WR) both, back to back
  close NAME                      close()
  rst NAME                        SO_LINGER {1, 0}, close(): sends RST
  hold NAME SECS                  sleep SECS (the duration under test), close
                                  -> OK SECONDS-HELD
  eofhold NAME SECS               eof, then hold -> OK SECONDS-HELD
  netns NSNAME                    setns() into /run/netns/NSNAME (sockets
                                  made later live there)
  pin CPU                         run on CPU only
  closets NAME                    close() -> OK T0 T1 (CLOCK_MONOTONIC ns
                                  just before and after)
  eofclosets NAME SECS            eof, sleep SECS, then as closets
  tfolisten NAME ADDR PORT        listen with TCP_FASTOPEN
  tfoconnect NAME ADDR PORT TEXT  sendto(MSG_FASTOPEN): TEXT in the SYN
                                  -> OK LPORT T0 T1 (around sendto)
  quit
"""
import ctypes
import errno
import os
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
PR_SET_NAME = 15

libc = ctypes.CDLL(None, use_errno=True)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "peer"
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    socks = {}
    out = sys.stdout

    def reply(line):
        out.write(line + "\n")
        out.flush()

    reply(f"READY {os.getpid()} {name[:15]}")
    for line in sys.stdin:
        argv = line.split()
        if not argv:
            continue
        cmd, args = argv[0], argv[1:]
        try:
            res = run(cmd, args, socks)
        except OSError as e:
            reply(f"ERR {errno.errorcode.get(e.errno, str(e.errno))} {e}")
            continue
        except Exception as e:  # a bad command: say so, keep going
            reply(f"ERR EINVAL {type(e).__name__}: {e}")
            continue
        if res is None:
            break
        reply("OK" + (" " + res if res else ""))


def run(cmd, a, socks):
    if cmd == "quit":
        return None
    if cmd == "listen":
        s = socket.socket(family_of(a[1]), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a[1], int(a[2])))
        s.listen(16)
        socks[a[0]] = s
        return str(s.getsockname()[1])
    if cmd == "accept":
        c, peer = socks[a[0]].accept()
        socks[a[1]] = c
        return f"{peer[0]} {peer[1]}"
    if cmd == "connect":
        s = socket.socket(family_of(a[1]), socket.SOCK_STREAM)
        socks[a[0]] = s
        if len(a) > 3:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if s.family == socket.AF_INET6 else "0.0.0.0", int(a[3])))
        s.connect((a[1], int(a[2])))
        return str(s.getsockname()[1])
    if cmd == "reconnect":
        s = socks[a[0]]
        s.connect((a[1], int(a[2])))
        return str(s.getsockname()[1])
    if cmd == "send":
        socks[a[0]].sendall(" ".join(a[1:]).encode())
        return ""
    if cmd == "recv":
        return socks[a[0]].recv(int(a[1])).decode(errors="replace")
    if cmd == "eof":
        while socks[a[0]].recv(4096):
            pass
        return ""
    if cmd == "shutdown":
        socks[a[0]].shutdown(socket.SHUT_WR)
        return ""
    if cmd == "shutdown2":
        x, y = socks[a[0]], socks[a[1]]
        x.shutdown(socket.SHUT_WR)
        y.shutdown(socket.SHUT_WR)
        return ""
    if cmd == "close":
        socks.pop(a[0]).close()
        return ""
    if cmd == "rst":
        s = socks.pop(a[0])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return ""
    if cmd in ("hold", "eofhold"):
        s = socks.pop(a[0])
        if cmd == "eofhold":
            while s.recv(4096):
                pass
        t0 = time.monotonic()
        time.sleep(float(a[1]))  # the duration under test
        s.close()
        return f"{time.monotonic() - t0:.6f}"
    if cmd == "netns":
        fd = os.open(f"/run/netns/{a[0]}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
        finally:
            os.close(fd)
        return ""
    if cmd == "pin":
        os.sched_setaffinity(0, {int(a[0])})
        return ""
    if cmd in ("closets", "eofclosets"):
        s = socks.pop(a[0])
        if cmd == "eofclosets":
            while s.recv(4096):
                pass
            time.sleep(float(a[1]))  # the FIN gap under test
        t0 = time.monotonic_ns()
        s.close()
        return f"{t0} {time.monotonic_ns()}"
    if cmd == "tfolisten":
        s = socket.socket(family_of(a[1]), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
        s.bind((a[1], int(a[2])))
        s.listen(16)
        socks[a[0]] = s
        return str(s.getsockname()[1])
    if cmd == "tfoconnect":
        s = socket.socket(family_of(a[1]), socket.SOCK_STREAM)
        socks[a[0]] = s
        t0 = time.monotonic_ns()
        s.sendto(" ".join(a[3:]).encode(), socket.MSG_FASTOPEN, (a[1], int(a[2])))
        t1 = time.monotonic_ns()
        return f"{s.getsockname()[1]} {t0} {t1}"
    raise ValueError(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main()
