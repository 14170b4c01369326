#!/usr/bin/python3
"""Re-record tests/data/replay/loopback.bin (root): real loopback traffic.

  /usr/bin/python3 tests/data/replay/record.py build/tcpfsm tests/data/replay/loopback.bin

Scenarios, all on port 18080 (IPv4) or 18081 (IPv6):
  1. IPv4: client closes first, the server holds CLOSE_WAIT 200 ms, closes;
     the client's TIME_WAIT is then killed with `ss -K`;
  2. IPv6: the same without the hold;
  3. a connect to 18082, where nothing listens (refused).
"""
import socket
import subprocess
import sys
import time

binary, out = sys.argv[1], sys.argv[2]
p = subprocess.Popen([binary, "trace", "--no-seed", "--addr", "127.0.0.1/32", "--addr", "::1/128",
                      "--record", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
while b"Ctrl-C" not in p.stderr.readline():
    pass


def pair(family, addr, port, hold):
    lis = socket.socket(family)
    lis.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lis.bind((addr, port))
    lis.listen()
    c = socket.socket(family)
    c.connect((addr, port))
    s, _ = lis.accept()
    c.sendall(b"hello")
    s.recv(5)
    c.close()
    assert s.recv(1) == b""
    time.sleep(hold)
    s.close()
    lis.close()


pair(socket.AF_INET, "127.0.0.1", 18080, 0.2)
pair(socket.AF_INET6, "::1", 18081, 0.0)
try:
    socket.create_connection(("127.0.0.1", 18082))
except ConnectionRefusedError:
    pass
time.sleep(0.3)
subprocess.run(["ss", "-K", "state", "time-wait", "(", "dport", "=", ":18080", ")"],
               stdout=subprocess.DEVNULL, check=True)
time.sleep(0.3)
p.send_signal(2)
print(p.communicate()[1].decode().strip())
