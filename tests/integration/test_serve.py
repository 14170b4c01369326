"""tcpfsm serve against the real thing: a Prometheus server scrapes it while
known traffic runs in a namespace of the test's own; the answers must equal
`ss` in that namespace and the test's own clock around its own syscalls."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFIC = os.path.join(HERE, "serve_traffic.py")

SS_STATE = {"ESTAB": "established", "SYN-SENT": "syn_sent", "SYN-RECV": "syn_recv",
            "FIN-WAIT-1": "fin_wait1", "FIN-WAIT-2": "fin_wait2",
            "TIME-WAIT": "time_wait", "UNCONN": "close", "CLOSE-WAIT": "close_wait",
            "LAST-ACK": "last_ack", "LISTEN": "listen", "CLOSING": "closing"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path="/metrics", headers=None, timeout=5):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def raw_request(port, data, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode(errors="replace")


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of the text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        if "{" in head:
            name, rest = head.split("{", 1)
            labels = frozenset(tuple(kv.split("=", 1)) for kv in rest.rstrip("}").split(",")
                               if kv)
            labels = frozenset((k, v.strip('"')) for k, v in labels)
        else:
            name, labels = head, frozenset()
        out[(name, labels)] = float(value)
    return out


def metric(m, name, **labels):
    """One sample of parse_metrics' result; 0 when absent."""
    return m.get((name, frozenset(labels.items())), 0)


class Serve:
    def __init__(self, *args):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tcpfsm-serve-")
        self.err_path = os.path.join(self.dir, "err")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{self.port}", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        wait_for(lambda: "serving http://" in self.stderr() or self.proc.poll() is not None,
                 timeout=30, what="tcpfsm serve to serve")
        assert self.proc.poll() is None, self.stderr()

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def metrics(self, **kw):
        status, ctype, body = http_get(self.port, **kw)
        assert status == 200, (status, body)
        return body

    def stop(self, sig=signal.SIGTERM):
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=10)
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def serve():
    started = []

    def start(*args):
        s = Serve(*args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


class Prometheus:
    """Debian's prometheus, scraping tcpfsm serve every second."""

    def __init__(self, target_port):
        if not shutil.which("prometheus"):
            pytest.skip("prometheus is not installed (apt-get install prometheus)")
        self.dir = tempfile.mkdtemp(prefix="tcpfsm-prom-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                    "scrape_configs:\n  - job_name: tcpfsm\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{target_port}']\n")
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=self.log)
        wait_for(self.ready, timeout=30, interval=0.1, what="prometheus to be ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("prometheus exited: " + open(self.log.name).read())
        try:
            return http_get(self.port, "/-/ready", timeout=1)[0] == 200
        except OSError:
            return False

    def query(self, q):
        """[(labels, ts, value)] of an instant query."""
        status, _, body = http_get(self.port, "/api/v1/query?query=" + urllib.parse.quote(q))
        assert status == 200, body
        r = json.loads(body)["data"]["result"]
        return [(x["metric"], float(x["value"][0]), float(x["value"][1])) for x in r]

    def value(self, q):
        r = self.query(q)
        return r[0][2] if r else None

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Traffic:
    def __init__(self, ns):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, TRAFFIC],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1)

    def do(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "OK", (cmd, line)
        return [int(x) for x in line[1:]]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=10)


def ss_counts(ns):
    counts = {v: 0 for v in SS_STATE.values()}
    for line in ns.exec("ss", "-tanH").splitlines():
        st = line.split()[0]
        counts[SS_STATE[st]] += 1
    return counts


def mono_to_unix(t_ns):
    return t_ns / 1e9 + (time.time() - time.monotonic())


def bucket_bounds(prom, metric, sel):
    r = prom.query(f'{metric}_bucket{{{sel}}}')
    return sorted((float(m["le"]), v) for m, _, v in r)


def compare_node_exporter(ns, prom, states):
    """prometheus-node-exporter's tcpstat collector in the namespace agrees
    on the states its own sockets do not touch."""
    exporter = shutil.which("prometheus-node-exporter")
    if not exporter:
        return
    port = 9100
    proc = subprocess.Popen(["ip", "netns", "exec", ns.name, exporter, "--collector.disable-defaults",
                             "--collector.tcpstat", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    get = ("import urllib.request,sys;"
           f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{port}/metrics')"
           ".read().decode())")
    try:
        def scrape():
            try:
                return parse_metrics(ns.exec(sys.executable, "-c", get))
            except RuntimeError:
                return None
        m = wait_for(scrape, timeout=15, interval=0.1, what="node_exporter")
        theirs = {st: m[("node_tcp_connection_states", frozenset({("state", st)}))]
                  for st in states}

        def same():
            ours = {m_["state"]: v for m_, _, v in
                    prom.query("sum by (state) (tcpfsm_sockets)")}
            return all(ours[st] == theirs[st] for st in states)
        # (a scrape after node_exporter's own listener came)
        wait_for(same, timeout=10, interval=0.2, what=f"tcpfsm == node_exporter {theirs}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_prometheus_scrapes_serve(serve, netns):
    ns = netns()
    # --by lport: node_exporter's own connections, made in the namespace
    # below, stay apart from the test's ports
    srv = serve("--netns", f"/run/netns/{ns.name}", "--reconcile", "1s",
                "--stuck", "close_wait=1s", "--by", "lport")
    prom = Prometheus(srv.port)
    traffic = Traffic(ns)
    try:
        N, M, K = 5, 7, 3
        held_first, = traffic.do(f"closewait 7001 {N}")
        t_cw = held_first
        traffic.do(f"timewait 7002 {M}")
        ns.drop("tfsmho", "output", "tcp dport 7003 tcp flags & (syn | ack | fin | rst) == ack")
        t_ho0, t_ho1 = traffic.do(f"halfopen 7003 {K}")

        expect = ss_counts(ns)
        assert expect["close_wait"] == N and expect["time_wait"] == M
        assert expect["syn_recv"] == K and expect["listen"] == 3

        # every state Prometheus has equals ss (nothing changes meanwhile)
        last = {}

        def counts_match():
            got = {m["state"]: v for m, _, v in prom.query("sum by (state) (tcpfsm_sockets)")}
            last["got"] = got
            return got if got == {k: float(v) for k, v in expect.items()} else None
        try:
            wait_for(counts_match, timeout=30, interval=0.2, what="tcpfsm_sockets == ss")
        except AssertionError:
            raise AssertionError(f"tcpfsm_sockets {last.get('got')} != ss {expect}; "
                                 f"now ss {ss_counts(ns)}; serve: {srv.stderr()}")
        assert ss_counts(ns) == expect
        compare_node_exporter(ns, prom, ("close_wait", "syn_recv", "listen"))

        # the oldest CLOSE_WAIT's age, at the scrape's own timestamp
        # when the oldest CLOSE_WAIT began, by the scrape's own timestamp (an
        # instant query's is its own), in one query: no scrape in between
        q = 'tcpfsm_state_oldest_age_seconds{state="close_wait"}'
        wait_for(lambda: (prom.value(q) or 0) > 1.5, timeout=20, interval=0.2,
                 what="close_wait age")
        began = prom.value(f"timestamp({q}) - {q}")
        took = prom.value('scrape_duration_seconds{job="tcpfsm"}')
        # CLOSE_WAIT began just before t_cw; the value is made while the
        # scrape runs (late when the machine is busy)
        assert -took - 0.05 < began - mono_to_unix(t_cw) < 0.05, \
            (began, mono_to_unix(t_cw), took)
        wait_for(lambda: prom.value('tcpfsm_sockets_stuck{state="close_wait"}') == N,
                 timeout=20, interval=0.2, what="stuck close_wait")
        stuck = [json.loads(l) for l in srv.stderr().splitlines() if l.startswith("{")]
        assert any(e["event"] == "stuck" and e["state"] == "close_wait" and e["sockets"] == N
                   for e in stuck), stuck

        # CLOSE_WAIT durations: the test's clock bounds each one
        t0, t1 = traffic.do("release 7001")
        lo, hi = (t0 - t_cw) / 1e9, (t1 - t_cw) / 1e9 + 0.05
        sel = 'state="close_wait",lport="7001"'
        wait_for(lambda: prom.value(f'tcpfsm_state_duration_seconds_count{{{sel}}}') == N,
                 timeout=20, interval=0.2, what="close_wait durations")
        buckets = bucket_bounds(prom, "tcpfsm_state_duration_seconds", sel)
        below = [c for le, c in buckets if le < lo]
        above = [c for le, c in buckets if le >= hi]
        assert below[-1] == 0, buckets
        assert above[0] == N, buckets
        total = prom.value(f'tcpfsm_state_duration_seconds_sum{{{sel}}}')
        assert N * lo <= total <= N * hi, (total, lo, hi)

        # TIME_WAIT ended early by sock_diag destroy
        ns.exec("ss", "-K", "state", "time-wait", "sport = :7002")
        try:
            wait_for(lambda: prom.value('tcpfsm_time_wait_ends_total{end="early"}') == M,
                     timeout=20, interval=0.2, what="time_wait early ends")
        except AssertionError:
            m = "\n".join(l for l in srv.metrics().splitlines()
                          if not l.startswith("#") and not l.endswith(" 0")
                          and "_bucket" not in l)
            raise AssertionError(f"time_wait early ends != {M}; ss {ns.exec('ss', '-tan')}\n{m}")
        assert prom.value('tcpfsm_state_duration_seconds_count'
                          '{state="time_wait",lport="7002"}') == M

        # the half-open ones complete at the next SYN-ACK once ACKs pass again
        est0 = prom.value('tcpfsm_syn_recv_ends_total{end="established"}')
        ns.undrop("tfsmho")
        wait_for(lambda: prom.value('tcpfsm_syn_recv_ends_total{end="established"}')
                 >= est0 + K and prom.value('tcpfsm_state_duration_seconds_count'
                                            '{state="syn_recv",lport="7003"}') == K,
                 timeout=20, interval=0.2, what="half-open ends")
        assert prom.value("tcpfsm_synack_retransmits_total") >= K
        h_sum = prom.value('tcpfsm_state_duration_seconds_sum{state="syn_recv",lport="7003"}')
        # K half-open for at least the first SYN-ACK timeout (1 s)
        assert h_sum >= K * 0.9, h_sum

        assert prom.value("sum(tcpfsm_events_lost_total)") == 0
        assert prom.value('up{job="tcpfsm"}') == 1
    finally:
        traffic.close()
        prom.close()
    rc, took = srv.stop()
    assert rc == 0 and took < 5, (rc, took)


def test_promtool_checks_exposition(serve, netns):
    if not shutil.which("promtool"):
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    ns = netns()
    srv = serve("--netns", f"/run/netns/{ns.name}", "--stuck", "close_wait=1s,syn_recv=2s")
    text = srv.metrics()
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    om = srv.metrics(headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.endswith("# EOF\n")
    assert "# TYPE tcpfsm_transitions counter" in om
    assert "# TYPE tcpfsm_transitions_total counter" in text


def test_http_bounds_and_signals(serve, netns):
    ns = netns()
    srv = serve("--netns", f"/run/netns/{ns.name}")
    assert raw_request(srv.port, b"POST /metrics HTTP/1.1\r\n\r\n").startswith(
        "HTTP/1.1 405")
    assert raw_request(srv.port, b"GET /nope HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 404")
    assert raw_request(srv.port, b"garbage\r\n\r\n").startswith("HTTP/1.1 400")
    assert raw_request(srv.port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 +
                       b"\r\n\r\n").startswith("HTTP/1.1 431")
    # silent clients hold every slot; a scrape still gets through once they
    # time out, and none of them stalls the server meanwhile
    idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(6)]
    t0 = time.monotonic()
    srv.metrics(timeout=10)
    assert time.monotonic() - t0 < 8
    for s in idle:
        s.close()
    srv.proc.send_signal(signal.SIGHUP)
    srv.metrics()
    assert srv.proc.poll() is None
    rc, took = srv.stop(signal.SIGINT)
    assert rc == 0 and took < 5, (rc, took)


def test_textfile_and_usage(serve, netns, tmp_path):
    ns = netns()
    path = tmp_path / "tcpfsm.prom"
    srv = serve("--netns", f"/run/netns/{ns.name}", "--textfile", str(path),
                "--interval", "200ms")
    wait_for(path.exists, timeout=10, what="the textfile")
    first = path.stat().st_ino
    wait_for(lambda: path.stat().st_ino != first, timeout=10, what="a rewrite (rename)")
    text = path.read_text()
    assert 'tcpfsm_sockets{state="listen"} 0' in text
    assert "process_cpu_seconds_total" not in text  # node_exporter has its own
    assert [p.name for p in tmp_path.iterdir()] == ["tcpfsm.prom"]
    for bad in (["--listen", "nope"], ["--stuck", "bogus=1s"], ["--stuck", "close_wait"],
                ["--interval", "1ms"], ["extra"]):
        p = subprocess.run([BIN, "serve", *bad], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (bad, p.stderr)
        assert p.stderr.startswith("tcpfsm serve: "), p.stderr


UNIT = os.path.join(HERE, "..", "..", "tools", "tcpfsm-serve.service")


def unit_caps():
    with open(UNIT) as f:
        for line in f:
            if line.startswith("AmbientCapabilities="):
                return line.split("=", 1)[1].split()
    raise AssertionError("no AmbientCapabilities in the unit")


def test_unit_capabilities_suffice(netns, tmp_path):
    """As an unprivileged user with exactly the unit's capabilities, serve
    loads, hooks the minisockets and counts what ss counts."""
    caps = ",".join("+" + c[4:].lower() for c in unit_caps())
    ns = netns()
    binary = tmp_path / "tcpfsm"
    shutil.copy(BIN, binary)
    os.chmod(tmp_path, 0o755)
    port = 9466
    err = open(tmp_path / "err", "wb")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns.name, "setpriv", "--reuid=65534", "--regid=65534",
         "--clear-groups", f"--inh-caps=-all,{caps}", f"--ambient-caps=-all,{caps}",
         f"--bounding-set=-all,{caps}", str(binary), "serve", "--reconcile", "200ms"],
        stdout=subprocess.DEVNULL, stderr=err)
    traffic = Traffic(ns)
    try:
        wait_for(lambda: b"serving http://127.0.0.1:9466/metrics" in
                 (tmp_path / "err").read_bytes() or proc.poll() is not None,
                 timeout=30, what="serve under setpriv")
        assert proc.poll() is None, (tmp_path / "err").read_text()
        assert b"warning" not in (tmp_path / "err").read_bytes()
        traffic.do("closewait 7001 2")
        traffic.do("timewait 7002 3")
        get = ("import urllib.request,sys;"
               f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{port}/metrics')"
               ".read().decode())")

        def scrape():
            return parse_metrics(ns.exec(sys.executable, "-c", get))

        def ok():
            m = scrape()
            cw = m[("tcpfsm_sockets", frozenset({("state", "close_wait")}))]
            tw = m[("tcpfsm_sockets", frozenset({("state", "time_wait")}))]
            return m if cw == 2 and tw >= 3 else None
        m = wait_for(ok, timeout=15, interval=0.2, what="close_wait 2, time_wait >= 3")
        info = [k for k in m if k[0] == "tcpfsm_build_info"][0]
        assert ("minisocks", "yes") in info[1]
        assert m[("tcpfsm_reconcile_errors_total", frozenset())] == 0
        assert ss_counts(ns)["close_wait"] == 2
    finally:
        traffic.close()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        err.close()
    assert rc == 0


def ss_by_lport(ns):
    """{(state, lport label)}: count, grouped as serve --by lport groups."""
    rows = [l.split() for l in ns.exec("ss", "-tanH").splitlines()]
    listening = {r[3].rsplit(":", 1)[1] for r in rows if r[0] == "LISTEN"}
    out = {}
    for r in rows:
        port = r[3].rsplit(":", 1)[1]
        key = (SS_STATE[r[0]], port if port in listening else "ephemeral")
        out[key] = out.get(key, 0) + 1
    return out


def test_by_lport_matches_ss(serve, netns):
    ns = netns()
    traffic = Traffic(ns)
    try:
        # a listener older than serve, with sockets: found by reconciliation
        traffic.do("closewait 7001 3")
        srv = serve("--netns", f"/run/netns/{ns.name}", "--reconcile", "200ms",
                    "--by", "lport", "--max-series", "3")
        traffic.do("timewait 7002 4")
        traffic.do("closewait 7003 2")
        traffic.do("closewait 7004 1")   # the fourth port: over the cap
        traffic.do("release 7003")

        def served():
            m = parse_metrics(srv.metrics())
            got = {}
            for (name, labels), v in m.items():
                if name == "tcpfsm_sockets" and v:
                    d = dict(labels)
                    got[(d["state"], d["lport"])] = int(v)
            return got, m

        def expected():
            # 7004 is beyond the cap of 3 ports: its sockets are in "other"
            want = {}
            for (state, port), n in ss_by_lport(ns).items():
                key = (state, "other" if port == "7004" else port)
                want[key] = want.get(key, 0) + n
            return want

        # the released connections' ends move on (FIN_WAIT1, FIN_WAIT2,
        # TIME_WAIT): compare with ss as it is, until both agree and stay
        def agree():
            before = expected()
            got, m = served()
            return (got, m, before) if got == before == expected() else None
        got, m, want = wait_for(agree, timeout=20, interval=0.2,
                                what="per-lport counts == ss")
        assert ("close_wait", "7001") in want and ("time_wait", "7002") in want
        assert m[("tcpfsm_series_dropped_total", frozenset())] > 0
        cw = m[("tcpfsm_state_duration_seconds_count",
                frozenset({("state", "close_wait"), ("lport", "7003")}))]
        assert cw == 2
    finally:
        traffic.close()


def test_by_netns_matches_ss(serve, netns):
    """Every namespace counted, each in its own series, each equal to ss
    there (other namespaces of the host have theirs; only ours are checked)."""
    a, b = netns(), netns()
    ta, tb = Traffic(a), Traffic(b)
    try:
        ta.do("closewait 7001 2")            # older than serve: reconciled
        srv = serve("--by", "netns", "--reconcile", "200ms", "--max-series", "1000")
        ta.do("timewait 7002 3")
        tb.do("closewait 7001 4")

        def expected():
            want = {}
            for ns in (a, b):
                for st, n in ss_counts(ns).items():
                    if n:
                        want[(st, str(ns.inode))] = n
            return want

        def served():
            got = {}
            for (name, labels), v in parse_metrics(srv.metrics()).items():
                d = dict(labels)
                if name == "tcpfsm_sockets" and v and d["netns"] in (str(a.inode),
                                                                    str(b.inode)):
                    got[(d["state"], d["netns"])] = int(v)
            return got

        # compare with ss as it is (ends still move on), until both agree
        def agree():
            before = expected()
            return before if served() == before == expected() else None
        want = wait_for(agree, timeout=15, interval=0.2, what="per-netns counts == ss")
        assert want[("close_wait", str(b.inode))] == 4
        assert want[("time_wait", str(a.inode))] == 3
    finally:
        ta.close()
        tb.close()


def test_half_open_timeout_ends(serve, netns):
    """Requests whose final ACK never comes are dropped after their SYN-ACK
    retries: counted as timeout ends, off the gauge, as ss sees them go."""
    ns = netns()
    ns.sysctl(tcp_synack_retries=1)   # dropped ~3 s after the SYN
    srv = serve("--netns", f"/run/netns/{ns.name}", "--reconcile", "200ms")
    traffic = Traffic(ns)
    K = 3
    try:
        ns.drop("tfsmto", "output", "tcp dport 7003 tcp flags & (syn | ack | fin | rst) == ack")
        traffic.do(f"halfopen 7003 {K}")
        assert ss_counts(ns)["syn_recv"] == K

        def value(name, **labels):
            return metric(parse_metrics(srv.metrics()), name, **labels)
        wait_for(lambda: value("tcpfsm_sockets", state="syn_recv") == K, timeout=10,
                 interval=0.1, what="K half-open")
        wait_for(lambda: ss_counts(ns)["syn_recv"] == 0, timeout=20, interval=0.2,
                 what="the kernel to drop them")
        wait_for(lambda: value("tcpfsm_syn_recv_ends_total", end="timeout") == K,
                 timeout=10, interval=0.2, what="K timeout ends")
        assert value("tcpfsm_sockets", state="syn_recv") == 0
        assert value("tcpfsm_syn_recv_ends_total", end="established") == 0
        assert value("tcpfsm_synack_retransmits_total") >= K
        # they lived from the SYN to the drop: at least the retries' 1 + 2 s
        assert value("tcpfsm_state_duration_seconds_count", state="syn_recv") == K
        assert value("tcpfsm_state_duration_seconds_sum", state="syn_recv") >= K * 2.9
    finally:
        traffic.close()


FIN_GAP = r"""
import socket, subprocess, sys, time
port, n, spacing, gap = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
lis = socket.socket()
lis.bind(("127.0.0.1", port))
lis.listen(n)
pairs, opened = [], []
for _ in range(n):
    t = time.monotonic_ns()
    cli = socket.create_connection(("127.0.0.1", port))
    srv, _ = lis.accept()
    opened.append((t, time.monotonic_ns()))
    pairs.append((cli, srv))
# client i closes at i * spacing, its server gap later: the windows of the
# FIN's moved deadline overlap and cover more than one timer-wheel slot
# (512 jiffies at 60 s), so some FINs move their timer, others do not
start = time.monotonic() + 0.05
events = sorted([(start + i * spacing, 0, i) for i in range(n)] +
                [(start + i * spacing + gap, 1, i) for i in range(n)])
t = [[0] * 4 for _ in range(n)]
for at, kind, i in events:
    time.sleep(max(0.0, at - time.monotonic()))
    cli, srv = pairs[i]
    if kind == 0:
        cport = cli.getsockname()[1]
        t[i][0] = time.monotonic_ns()
        cli.close()     # FIN, ACKed at once (the route's quickack): FIN_WAIT2
        assert srv.recv(1) == b""
        while not subprocess.run(["ss", "-tanH", "state", "fin-wait-2", f"sport = :{cport}"],
                                 capture_output=True, text=True).stdout:
            pass        # ss sees the client in FIN_WAIT2 by t1
        t[i][1] = time.monotonic_ns()
    else:
        t[i][2] = time.monotonic_ns()
        srv.close()     # the server's FIN: the client's TIME_WAIT
        t[i][3] = time.monotonic_ns()
lis.close()
for (o0, o1), ti in zip(opened, t):
    print(o0, o1, *ti)
"""


def test_fin_wait2_to_time_wait_exact(serve, netns):
    """24 clients close first; each one's server closes 300 ms later. Each
    client's FIN_WAIT2 (its orphaned full socket handing over to a timewait
    minisocket) is one period ending at the server's FIN, whether the FIN
    moved the minisocket's timer (cancel and start: one in ~7 at 300 ms,
    several here) or not (no timer event: the FIN watch); the connection
    closes when its TIME_WAIT ends (ss -K), not at the handover. Durations
    against the test's own clock; nothing lost, nothing late."""
    ns = netns()
    # the FIN's ACK not delayed (CLOSE_WAIT is pingpong mode) to come with
    # the server's FIN: ACKs at once on this route
    ns.exec("ip", "route", "replace", "local", "127.0.0.0/8", "dev", "lo", "table", "local",
            "proto", "kernel", "scope", "host", "src", "127.0.0.1", "quickack", "1")
    srv = serve("--netns", f"/run/netns/{ns.name}")
    port, n, spacing, gap = 7004, 24, 0.11, 0.3
    out = ns.exec(sys.executable, "-c", FIN_GAP, str(port), str(n), str(spacing), str(gap))
    times = [[int(x) for x in line.split()] for line in out.splitlines()]
    assert len(times) == n

    def tw_count():
        return sum(f":{port}" in line for line in
                   ns.exec("ss", "-tanH", "state", "time-wait").splitlines())
    wait_for(lambda: tw_count() == n, timeout=5, interval=0.05, what="the clients' TIME_WAIT")
    m = parse_metrics(srv.metrics())
    got = {k: v for k, v in m.items() if k[0] in (
        "tcpfsm_transitions_total", "tcpfsm_sockets", "tcpfsm_events_lost_total",
        "tcpfsm_time_wait_late_transitions_total", "tcpfsm_connections_closed_total") and v}
    assert metric(m, "tcpfsm_transitions_total", **{"from": "fin_wait2", "to": "time_wait"}) == n, got
    assert metric(m, "tcpfsm_transitions_total", **{"from": "fin_wait2", "to": "close"}) == 0, got
    assert metric(m, "tcpfsm_sockets", state="time_wait") == n, got
    assert metric(m, "tcpfsm_sockets", state="fin_wait2") == 0, got
    assert sum(v for k, v in m.items() if k[0] == "tcpfsm_events_lost_total") == 0, got
    assert metric(m, "tcpfsm_time_wait_late_transitions_total") == 0, got
    # still in TIME_WAIT: the clients' connections have not closed
    assert metric(m, "tcpfsm_connections_closed_total", open="active", close="active") == 0, got
    assert metric(m, "tcpfsm_connections_closed_total", open="passive", close="passive") == n, got

    # FIN_WAIT2: from the FIN's ACK (by t1) to the server's FIN (from t2)
    lo = [(t2 - t1) / 1e9 for _, _, _, t1, t2, _ in times]
    hi = [(t3 - t0) / 1e9 for _, _, t0, _, _, t3 in times]
    assert metric(m, "tcpfsm_state_duration_seconds_count", state="fin_wait2") == n
    fw2 = sorted((float(dict(k[1])["le"]), v) for k, v in m.items()
                 if k[0] == "tcpfsm_state_duration_seconds_bucket" and
                 dict(k[1])["state"] == "fin_wait2")
    assert [c for le, c in fw2 if le < min(lo)][-1] == 0, (fw2, min(lo))
    assert [c for le, c in fw2 if le >= max(hi)][0] == n, (fw2, max(hi))
    fw2_sum = metric(m, "tcpfsm_state_duration_seconds_sum", state="fin_wait2")
    assert sum(lo) <= fw2_sum <= sum(hi), (fw2_sum, sum(lo), sum(hi))

    k0 = time.monotonic_ns()
    ns.exec("ss", "-K", "-tan", "state", "time-wait", f"( dport = :{port} )")
    k1 = time.monotonic_ns()
    assert tw_count() == 0
    wait_for(lambda: metric(parse_metrics(srv.metrics()), "tcpfsm_time_wait_ends_total",
                           end="early") == n, timeout=10, interval=0.05, what="n early ends")
    m = parse_metrics(srv.metrics())
    assert metric(m, "tcpfsm_time_wait_ends_total", end="expired") == 0
    assert metric(m, "tcpfsm_sockets", state="time_wait") == 0
    assert metric(m, "tcpfsm_state_duration_seconds_count", state="time_wait") == n
    # TIME_WAIT: from the server's FIN to the kill
    tw_sum = metric(m, "tcpfsm_state_duration_seconds_sum", state="time_wait")
    assert sum(k0 - t3 for *_, t3 in times) / 1e9 <= tw_sum <= \
        sum(k1 - t2 for *_, t2, _ in times) / 1e9, tw_sum
    # the clients' connections closed with their TIME_WAIT: connect() to the kill
    assert metric(m, "tcpfsm_connections_closed_total", open="active", close="active") == n
    life = metric(m, "tcpfsm_connection_lifetime_seconds_sum", open="active", close="active")
    assert sum(k0 - o1 for o0, o1, *_ in times) / 1e9 <= life <= \
        sum(k1 - o0 for o0, *_ in times) / 1e9, life


def test_fin_watch_by_tuple(serve, netns, monkeypatch):
    """The same, with the FIN found by its 4-tuple as before Linux 6.11."""
    monkeypatch.setenv("TCPFSM_TEST_NO_RX_SK", "1")
    test_fin_wait2_to_time_wait_exact(serve, netns)


def test_orphaned_fin_wait2_ages(serve, netns):
    """Orphaned FIN_WAIT2 minisockets (the clients closed, the servers hold
    on), made after a scrape that found none: the next scrape has their
    count and the oldest one's age (within the test's own clock), and those
    after count them stuck past the threshold; once their FINs come, none
    is left. Their ages live in serve's timewait table, which a scrape
    walks only when entries to look at were made since the last walk or
    that walk left some."""
    ns = netns()
    srv = serve("--netns", f"/run/netns/{ns.name}", "--stuck", "fin_wait2=1s",
                "--reconcile", "60s")
    traffic = Traffic(ns)
    try:
        n, port = 6, 7007
        m = parse_metrics(srv.metrics())
        assert metric(m, "tcpfsm_sockets", state="fin_wait2") == 0
        assert metric(m, "tcpfsm_state_oldest_age_seconds", state="fin_wait2") == 0
        t0, = traffic.do(f"orphans {port} {n}")

        def orphans():
            return len(ns.exec("ss", "-tanH", "state", "fin-wait-2",
                               f"( dport = :{port} )").splitlines())
        wait_for(lambda: orphans() == n, timeout=10, interval=0.02, what="n orphans")
        t1 = time.monotonic_ns()
        a = time.monotonic_ns()
        m = parse_metrics(srv.metrics())
        b = time.monotonic_ns()
        assert metric(m, "tcpfsm_sockets", state="fin_wait2") == n, m
        age = metric(m, "tcpfsm_state_oldest_age_seconds", state="fin_wait2")
        # each began FIN_WAIT2 between the first close and ss seeing all
        assert (a - t1) / 1e9 <= age <= (b - t0) / 1e9, (age, (a - t1) / 1e9, (b - t0) / 1e9)
        assert metric(m, "tcpfsm_sockets_stuck", state="fin_wait2") == 0 or b - t0 >= 1e9

        def stuck():
            return metric(parse_metrics(srv.metrics()), "tcpfsm_sockets_stuck",
                          state="fin_wait2")
        wait_for(lambda: stuck() == n, timeout=10, interval=0.1, what="n stuck")
        assert time.monotonic_ns() - t0 >= 1e9
        assert orphans() == n

        traffic.do(f"release {port}")
        wait_for(lambda: metric(parse_metrics(srv.metrics()), "tcpfsm_sockets",
                                state="fin_wait2") == 0, timeout=10, interval=0.05,
                 what="no FIN_WAIT2 left")
        m = parse_metrics(srv.metrics())
        assert metric(m, "tcpfsm_state_oldest_age_seconds", state="fin_wait2") == 0, m
        assert metric(m, "tcpfsm_sockets_stuck", state="fin_wait2") == 0, m
        assert metric(m, "tcpfsm_sockets", state="time_wait") == n, m
        lost = {k: v for k, v in m.items() if k[0] == "tcpfsm_events_lost_total" and v}
        assert not lost, lost
    finally:
        traffic.close()


TW_BATCH = r"""
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
lis = socket.socket()
lis.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lis.bind(("127.0.0.1", port))
lis.listen(128)
for _ in range(n):
    cli = socket.create_connection(("127.0.0.1", port))
    srv, _ = lis.accept()
    cli.close()         # the client closes first: its TIME_WAIT
    srv.close()
lis.close()
"""


def test_time_wait_table_frees_early_ends(serve, netns):
    """A timewait minisocket removed early frees its entry at once, not at
    the next scrape: a table of 1024 holds 1024 TIME_WAIT sockets, all
    killed, then 1024 more (less one per CPU: each CPU's last removal ends
    at its next timewait event), with no scrape in between, nothing lost."""
    ns = netns()
    # every connection a TIME_WAIT socket of its own: no reuse of an older
    # one's tuple (loopback reuses those a second old: a slow machine's batch)
    ns.sysctl(tcp_tw_reuse=0)
    n = 1024
    more = n - os.cpu_count()
    srv = serve("--netns", f"/run/netns/{ns.name}", "--max-time-wait", str(n),
                "--reconcile", "60s")

    def tw_count():
        return len(ns.exec("ss", "-tanH", "state", "time-wait").splitlines())
    ns.exec(sys.executable, "-c", TW_BATCH, "7005", str(n))
    assert tw_count() == n
    ns.exec("ss", "-K", "-tan", "state", "time-wait")
    assert tw_count() == 0
    ns.exec(sys.executable, "-c", TW_BATCH, "7006", str(more))
    assert tw_count() == more
    m = parse_metrics(srv.metrics())
    lost = {k: v for k, v in m.items() if k[0] == "tcpfsm_events_lost_total" and v}
    assert not lost, lost
    assert m[("tcpfsm_time_wait_ends_total", frozenset({("end", "early")}))] == n
    assert m[("tcpfsm_sockets", frozenset({("state", "time_wait")}))] == more
    assert m[("tcpfsm_state_duration_seconds_count", frozenset({("state", "time_wait")}))] == n
