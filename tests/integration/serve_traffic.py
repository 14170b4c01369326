"""Known TCP traffic for the `tcpfsm serve` tests, run inside a namespace.

Commands on stdin, one reply line each (times are CLOCK_MONOTONIC ns, taken
around the test's own syscalls):
  closewait PORT N     N connections whose client closed: the server side
                       sits in CLOSE_WAIT -> OK T_AFTER_LAST_CLIENT_CLOSE
  release PORT         close those server sockets -> OK T_BEFORE T_AFTER
  timewait PORT M      M connections the server closes first, the client
                       after: M server sockets in TIME_WAIT -> OK T
  halfopen PORT K      K connect()s to a listener whose final ACK the test
                       drops: K request socks in SYN_RECV -> OK T_BEFORE T_AFTER
  quit
"""
import select
import socket
import sys
import time

held = {}


def wait_state(sock_list, pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not all(pred(s) for s in sock_list):
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.005)


def tcp_state(s):
    import struct
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    return info[0]


def listener(port, backlog=128):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port))
    l.listen(backlog)
    return l


def main():
    for line in sys.stdin:
        a = line.split()
        if not a:
            continue
        cmd = a[0]
        if cmd == "quit":
            break
        port = int(a[1])
        if cmd in ("closewait", "orphans"):
            # the clients close, the servers hold on: the servers in
            # CLOSE_WAIT, the clients orphaned in FIN_WAIT2 (minisockets)
            n = int(a[2])
            l = listener(port)
            pairs = []
            for _ in range(n):
                c = socket.create_connection(("127.0.0.1", port))
                s, _ = l.accept()
                pairs.append((c, s))
            t0 = time.monotonic_ns()
            for c, _ in pairs:
                c.close()
            t = time.monotonic_ns()
            # CLOSE_WAIT (8) on every server socket
            wait_state([s for _, s in pairs], lambda s: tcp_state(s) == 8)
            held[port] = (l, [s for _, s in pairs])
            print(f"OK {t}" if cmd == "closewait" else f"OK {t0}", flush=True)
        elif cmd == "release":
            l, socks = held.pop(port)
            t0 = time.monotonic_ns()
            for s in socks:
                s.close()
            t1 = time.monotonic_ns()
            held[port] = (l, [])
            print(f"OK {t0} {t1}", flush=True)
        elif cmd == "timewait":
            m = int(a[2])
            l = listener(port)
            pairs = []
            for _ in range(m):
                c = socket.create_connection(("127.0.0.1", port))
                s, _ = l.accept()
                pairs.append((c, s))
            for c, s in pairs:
                s.close()
            # clients see the FIN (CLOSE_WAIT), then close: server TIME_WAIT
            wait_state([c for c, _ in pairs], lambda c: tcp_state(c) == 8)
            for c, _ in pairs:
                c.close()
            t = time.monotonic_ns()
            held[port] = (l, [])
            print(f"OK {t}", flush=True)
        elif cmd == "halfopen":
            k = int(a[2])
            l = listener(port)
            cs = []
            t0 = time.monotonic_ns()
            for _ in range(k):
                c = socket.socket()
                c.setblocking(False)
                try:
                    c.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
                cs.append(c)
            select.select([], cs, [], 5)
            t1 = time.monotonic_ns()
            held[port] = (l, cs)
            print(f"OK {t0} {t1}", flush=True)
        else:
            print(f"ERR unknown {cmd}", flush=True)


if __name__ == "__main__":
    main()
