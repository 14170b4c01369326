# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The filter options trace and snapshot share are parsed alike: the same
values accepted, the same limits, the same one-line errors. No root needed:
trace reads a recording (--replay) and snapshot a recorded dump
(--from-raw), and bad options fail before anything is opened."""
import os

from conftest import META, run

HERE = os.path.dirname(__file__)
EVENTS = os.path.join(HERE, "../data/replay/loopback.bin")
DUMP = os.path.join(HERE, "../data/diag/small-both.bin")

# how each command runs without root
SOURCE = {
    "trace": ("--replay", EVENTS, "--json"),
    "snapshot": ("--from-raw", DUMP, "--no-age", "--json"),
}


def tcpfsm(cmd, *args):
    return run(cmd, *args, *SOURCE[cmd])


def usage_error(cmd, *args, last=False):
    """The message of a usage error (exit 2, one line and the hint); with
    last, args end the command line (an option missing its value)."""
    p = run(cmd, *args) if last else tcpfsm(cmd, *args)
    assert p.returncode == 2, (cmd, args, p.returncode, p.stderr)
    err = p.stderr.splitlines()
    assert len(err) == 2 and err[1] == f"Try 'tcpfsm {cmd} --help'.", err
    assert p.stdout == ""
    prefix = f"tcpfsm {cmd}: "
    assert err[0].startswith(prefix), err
    return err[0][len(prefix):]


def accepted(cmd, *args):
    """What was selected: the JSON stream's records about the stream itself
    (its summary, losses) left out."""
    p = tcpfsm(cmd, *args)
    assert p.returncode == 0, (cmd, args, p.stderr)
    return "".join(l for l in p.stdout.splitlines(keepends=True)
                   if not any(f'"type":"{m}"' in l for m in META))


def both(fn, *args):
    return [fn(cmd, *args) for cmd in ("trace", "snapshot")]


def test_same_family_twice_is_fine_both_is_not():
    both(accepted, "-4", "-4")
    both(accepted, "-6", "-6")
    t, s = both(usage_error, "-4", "-6")
    assert t == s == "-4 and -6 exclude each other"


def test_getopt_errors_name_the_option_as_given():
    # a value given to a long option that takes none: the option as typed,
    # not the short letter snapshot maps it to
    t, s = both(usage_error, "--json=1")
    assert t == s == "unknown option '--json=1'"
    t, s = both(usage_error, "--bogus")
    assert t == s == "unknown option '--bogus'"
    # an unknown letter inside a cluster, after a long option
    t, s = both(usage_error, "--json", "-Y4")
    assert t == s == "unknown option '-Y'"
    t, s = both(usage_error, "--json", "-4Y")
    assert t == s == "unknown option '-Y'"
    assert usage_error("snapshot", "--by", last=True) == \
        "option '--by' needs a value"
    assert usage_error("snapshot", "-pD", last=True) == \
        "option '-D' needs a value"
    assert usage_error("trace", "-T", last=True) == "option '-T' needs a value"
    for cmd in ("trace", "snapshot"):
        assert usage_error(cmd, "--json", "--state", last=True) == \
            "option '--state' needs a value"


def test_port_lists_add_up_to_one_limit():
    eight = ",".join(str(p) for p in range(1, 9))
    both(accepted, "--lport", eight)
    both(accepted, "--lport", "1,2,3", "--lport", "4,5,6,7,8")
    both(accepted, "--rport", "1", "--rport", "2,3,4,5,6,7,8")
    t, s = both(usage_error, "--lport", eight + ",9")
    assert t == s
    assert "up to 8 in all" in t, t
    t, s = both(usage_error, "--rport", eight, "--rport", "9")
    assert t == s and t.startswith("--rport: "), t
    t, s = both(usage_error, "--lport", "0")
    assert t == s == ("--lport: bad port list '0' "
                      "(1-65535, up to 8 in all, comma-separated)")


def test_addr_lists_and_repeats_add_up_to_one_limit():
    cidrs = [f"10.0.{i}.0/24" for i in range(15)] + ["::1"]
    both(accepted, "--addr", ",".join(cidrs))
    both(accepted, *[a for c in cidrs for a in ("--addr", c)])
    t, s = both(usage_error, "--addr", ",".join(cidrs), "--addr", "10.9.9.9")
    assert t == s == "--addr: more than 16 addresses in all"
    t, s = both(usage_error, "--addr", "300.1.1.1")
    assert t == s == "--addr: bad address or CIDR '300.1.1.1'"
    t, s = both(usage_error, "--addr", "127.0.0.1,,::1")
    assert t == s == "--addr: empty item in '127.0.0.1,,::1' (a stray ',')"
    # a list selects what the flags repeated select
    listed = accepted("trace", "--addr", "127.0.0.0/8,::1/128")
    repeated = accepted("trace", "--addr", "127.0.0.0/8", "--addr", "::1/128")
    assert listed == repeated and listed


def test_state_lists_and_repeats_add_up():
    t, s = both(usage_error, "--state", "NOPE")
    assert t == s == "--state: unknown state 'NOPE'"
    listed = accepted("trace", "--state", "ESTABLISHED,CLOSE_WAIT")
    repeated = accepted("trace", "--state", "ESTABLISHED", "--state",
                        "CLOSE_WAIT")
    one = accepted("trace", "--state", "CLOSE_WAIT")
    assert listed == repeated
    assert len(listed.splitlines()) > len(one.splitlines()) > 0


def test_tcpstates_port_letters_and_either_end():
    """-L/-D are tcpstates' local/remote port; --port takes either end."""
    lport = accepted("trace", "--lport", "18080")
    rport = accepted("trace", "--rport", "18080")
    assert lport and rport and lport != rport
    assert accepted("trace", "-L", "18080") == lport
    assert accepted("trace", "-D", "18080") == rport
    either = accepted("trace", "--port", "18080").splitlines()
    assert sorted(either) == sorted(lport.splitlines() + rport.splitlines())
    t, s = both(usage_error, "--port", "0")
    assert t == s and t.startswith("--port: bad port list '0'"), t


def test_netns_spec_the_same_everywhere():
    """--netns takes a name, a path, a pid or an inode in every command,
    and refuses the same things with the same words."""
    ino = str(os.stat(f"/proc/{os.getpid()}/ns/net").st_ino)
    for spec in (str(os.getpid()), f"/proc/{os.getpid()}/ns/net", ino):
        both(accepted, "--netns", spec)
    # the recording's namespace selects the same, however it is named
    assert accepted("trace", "-N", "/proc/self/ns/net") == \
        accepted("trace", "--netns", ino)
    t, s = both(usage_error, "--netns", "/dev/null")
    assert t == s == "--netns: '/dev/null' is not a network namespace"
    t, s = both(usage_error, "-N", "no-such-netns-here")
    assert t == s == ("--netns: cannot read namespace 'no-such-netns-here': "
                      "No such file or directory")
    t, s = both(usage_error, "--netns", "5000000")
    assert t == s and t.startswith("--netns: bad namespace '5000000'"), t


def test_wide_iso_and_hex_cookie_columns():
    """The table's cookie is hex (as ss's sk:, JSON keeps the integer);
    -w adds a NETNS column; -T iso prints the date and the UTC offset; the
    header heads the same columns in every layout."""
    import json as _json
    import re as _re
    objs = [o for o in map(_json.loads, accepted("trace").splitlines())
            if o["type"] == "transition"]
    p = run("trace", "--replay", EVENTS)
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in p.stdout.splitlines()[1:]]
    assert [int(r[1], 16) for r in rows] == [o["cookie"] for o in objs]
    assert any(o["cookie"] > 9 for o in objs)  # hex and decimal differ
    for args, cols in ((("-w",), 9), (("-T", "iso"), 8), (("-w", "-T", "iso"), 9)):
        p = run("trace", "--replay", EVENTS, *args)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        head = lines[0].split()[:cols]
        assert head[:8] == ["TIME", "COOKIE", "PID", "COMM", "LADDR", "LPORT",
                            "RADDR", "RPORT"], head
        starts = [m.start() for m in _re.finditer(r"\S+", lines[0])][:cols]
        for line, o in zip(lines[1:], objs):
            got = [m.start() for m in _re.finditer(r"\S+", line)][:cols]
            assert got == starts, (args, line)
            f = line.split()
            if "-w" in args:
                assert head[8] == "NETNS" and int(f[8]) == o["netns"], line
            if "iso" in args:
                assert _re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d",
                                     f[0]), f[0]


def test_version_names_tcpfsm_libbpf_the_same_everywhere():
    """--version (and snapshot's -v, as ss's) prints tcpfsm's version, from
    git when built from a clone, and libbpf's, as pkg-config knows it."""
    import re as _re
    import subprocess as _sp
    outs = [run(*a).stdout for a in (("--version",), ("trace", "-V"),
                                     ("life", "--version"), ("stats", "-V"),
                                     ("snapshot", "-v"), ("snapshot", "--version"))]
    assert len(set(outs)) == 1, outs
    lines = outs[0].splitlines()
    m = _re.fullmatch(r"tcpfsm (\S+)", lines[0])
    assert m, lines
    top = os.path.join(HERE, "../..")
    if _sp.run(["git", "-C", top, "rev-parse", "HEAD"], capture_output=True).returncode == 0:
        h = _re.search(r"-g([0-9a-f]{7,})", m.group(1))
        assert h, m.group(1)
        assert _sp.run(["git", "-C", top, "cat-file", "-e", h.group(1) + "^{commit}"],
                       capture_output=True).returncode == 0, m.group(1)
    lib = _sp.run(["pkg-config", "--modversion", "libbpf"], capture_output=True, text=True)
    if lib.returncode == 0:
        major, minor = lib.stdout.strip().split(".")[:2]
        assert lines[1] == f"libbpf v{major}.{minor}", lines
