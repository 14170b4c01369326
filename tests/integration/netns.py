"""Network namespaces, veth pairs, nftables and peers for the scenario tests.

Everything made here lives in namespaces of its own (10.x and fd00:: addresses
only there), and is torn down by whoever made it, failure or not.
"""
import itertools
import os
import select
import subprocess
import sys

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer.py")
_seq = itertools.count(1)


def run(*argv, input=None, check=True, timeout=30):
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


class Netns:
    """One named network namespace with lo up."""

    def __init__(self, tag):
        self.name = f"tfsm{os.getpid()}{tag}{next(_seq)}"
        run("ip", "netns", "add", self.name)
        self.alive = True
        run("ip", "-n", self.name, "link", "set", "lo", "up")
        self.inode = os.stat(f"/run/netns/{self.name}").st_ino

    def ip(self, *args):
        return run("ip", "-n", self.name, *args)

    def exec(self, *argv, input=None, check=True, timeout=30):
        return run("ip", "netns", "exec", self.name, *argv, input=input, check=check,
                   timeout=timeout)

    def sysctl(self, **kv):
        for k, v in kv.items():
            self.exec("sysctl", "-q", "-w", f"net.ipv4.{k}={v}")

    def nft(self, ruleset):
        self.exec("nft", "-f", "-", input=ruleset)

    def drop(self, table, hook, *matches):
        """Table `table` in this namespace dropping packets that match, at hook."""
        rules = "".join(f"    {m} drop\n" for m in matches)
        self.nft(f"table inet {table} {{\n  chain c {{\n"
                 f"    type filter hook {hook} priority 0; policy accept;\n"
                 f"{rules}  }}\n}}\n")

    def undrop(self, table):
        self.nft(f"delete table inet {table}\n")

    def ss(self, *args):
        return self.exec("ss", *args)

    def peer(self, name):
        return Peer(self, name)

    def delete(self):
        if self.alive:
            self.alive = False
            run("ip", "netns", "del", self.name, check=False)


class Peer:
    """peer.py running inside a namespace; one command, one reply."""

    def __init__(self, ns, name):
        self.ns = ns
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, sys.executable, PEER, name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        self.pending = None
        ready = self._line(15).split()
        assert ready[0] == "READY", ready
        self.pid, self.comm = int(ready[1]), ready[2]

    def _line(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise AssertionError(f"peer {self.comm if hasattr(self, 'comm') else '?'}: "
                                 f"no reply within {timeout}s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"peer exited: {self.proc.stderr.read()}")
        return line.rstrip("\n")

    def send(self, cmd):
        """Start a command without waiting for its reply (see reply())."""
        assert self.pending is None, self.pending
        self.pending = cmd
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def reply(self, timeout=15.0, ok=True):
        cmd, self.pending = self.pending, None
        line = self._line(timeout)
        if ok and not line.startswith("OK"):
            raise AssertionError(f"{cmd!r}: {line}")
        return line

    def do(self, cmd, timeout=15.0, ok=True):
        """Run one command; the reply's text after OK (or the ERR line if ok=False)."""
        self.send(cmd)
        line = self.reply(timeout, ok)
        return line[3:] if line.startswith("OK") else line

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


class Veth:
    """Two namespaces, a (client side) and b (server side), joined by veth.

    a has 10.200.N.1/24 and fd00:200:N::1/64, b has .2 and ::2 (no DAD).
    """

    def __init__(self):
        n = next(_seq)
        self.a = Netns("a")
        self.b = Netns("b")
        self.n = n % 250 + 1
        va, vb = f"tv{os.getpid() % 100000}a{n}"[:15], f"tv{os.getpid() % 100000}b{n}"[:15]
        run("ip", "link", "add", va, "netns", self.a.name, "type", "veth",
            "peer", "name", vb, "netns", self.b.name)
        self.addr4 = (f"10.200.{self.n}.1", f"10.200.{self.n}.2")
        self.addr6 = (f"fd00:200:{self.n:x}::1", f"fd00:200:{self.n:x}::2")
        for ns, dev, a4, a6 in ((self.a, va, self.addr4[0], self.addr6[0]),
                                (self.b, vb, self.addr4[1], self.addr6[1])):
            ns.ip("addr", "add", f"{a4}/24", "dev", dev)
            ns.ip("-6", "addr", "add", f"{a6}/64", "dev", dev, "nodad")
            ns.ip("link", "set", dev, "up")

    def delete(self):
        self.a.delete()
        self.b.delete()
