#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Check the man page src/tcpfsm.8 against the binary (part of make test).

1. groff -man -ww finds nothing to warn about (mandoc -T lint too, if
   installed).
2. Every command that `tcpfsm --help` lists has a section whose heading
   names it, and every option that `tcpfsm CMD --help` prints at the start
   of a help line (short and long) appears in a section whose heading names
   CMD (".SS tcpfsm trace", or a shared ".SH OPTIONS OF trace, life AND
   stats").
3. Every JSON member the commands print (trace, life, stats over the
   committed recordings, with --stuck; snapshot over the committed dumps,
   listing and summary) is named in the page, and so is each "type".
4. The check can fail: the page with one option taken out must not pass.

To document a new option: print it in the command's --help, and add a .TP
entry for it under the command's section of src/tcpfsm.8.
Usage: check-man.py BUILD
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PAGE = os.path.join(TOP, "src", "tcpfsm.8")
OPT_LINE = re.compile(r"^ +((?:-[A-Za-z0-9]|--[a-z0-9-]+)(?:, (?:-[A-Za-z0-9]|--[a-z0-9-]+))*)")


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def plain(src):
    """The page's source with the escapes that hide words taken out."""
    s = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\%", "", src)
    return s.replace("\\-", "-").replace("\\e", "\\").replace("\\(dq", '"')


def sections(src):
    """[(heading, text)] for each .SH and .SS; a .SS's heading includes
    its .SH's, so options in ".SH OPTIONS OF trace ..." / ".SS Filters"
    belong to trace."""
    out, head, body, sh = [], "", [], ""
    for line in src.splitlines():
        if line.startswith((".SH", ".SS")):
            out.append((head, "\n".join(body)))
            title = line[3:].strip().strip('"')
            if line.startswith(".SH"):
                sh = head = title
            else:
                head = sh + " / " + title
            body = []
        else:
            body.append(line)
    out.append((head, "\n".join(body)))
    return out


def has_word(text, word):
    return re.search(r"(?<![A-Za-z0-9_-])" + re.escape(word) + r"(?![A-Za-z0-9_-])",
                     text) is not None


def commands(binary):
    help_ = run(binary, "--help").stdout
    m = re.search(r"^Commands:\n((?:  .*\n)+)", help_, re.M)
    assert m, "tcpfsm --help lists no commands"
    return [l.split()[0] for l in m.group(1).splitlines()]


def options(binary, cmd):
    p = run(binary, cmd, "--help")
    assert p.returncode == 0, (cmd, p.stderr)
    opts = set()
    for line in p.stdout.splitlines():
        m = OPT_LINE.match(line)
        if m:
            opts.update(o.strip() for o in m.group(1).split(","))
    return opts


def json_keys(binary):
    keys, types = set(), set()

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                keys.add(k)
                walk(v)
            if isinstance(o.get("type"), str):
                types.add(o["type"])
        elif isinstance(o, list):
            for v in o:
                walk(v)

    runs = []
    for rec in glob.glob(os.path.join(TOP, "tests/data/replay/*.bin")):
        for cmd in ("trace", "life", "stats"):
            runs.append((cmd, "--replay", rec, "--json", "--stuck",
                         "ESTABLISHED=1us,LISTEN=1us"))
        runs.append(("life", "--replay", rec, "--json", "--listeners"))
        runs.append(("stats", "--replay", rec, "--json", "--by", "cgroup"))
    for dump in glob.glob(os.path.join(TOP, "tests/data/diag/*.bin")):
        for extra in ((), ("-s",), ("--by", "lport"), ("-p",)):
            runs.append(("snapshot", "--from-raw", dump, "--no-age", "--json",
                         *extra))
    for argv in runs:
        p = run(binary, *argv)
        assert p.returncode == 0, (argv, p.stderr)
        for line in p.stdout.splitlines():
            walk(json.loads(line))
    return keys, types


def problems(src, binary, cmds, opts, keys, types):
    text = plain(src)
    secs = [(plain(h), plain(b)) for h, b in sections(src)]
    bad = []
    for cmd in cmds:
        mine = "\n".join(h + "\n" + b for h, b in secs if has_word(h, cmd))
        if not mine:
            bad.append(f"no section whose heading names the command '{cmd}'")
            continue
        for o in sorted(opts[cmd]):
            if not has_word(mine, o):
                bad.append(f"tcpfsm {cmd}: option {o} (in its --help) is not "
                           f"in a section of the page that names '{cmd}'")
    for k in sorted(keys):
        if not has_word(text, k):
            bad.append(f"JSON member \"{k}\" is not in the page")
    for t in sorted(types):
        if not has_word(text, t):
            bad.append(f"JSON \"type\":\"{t}\" is not in the page")
    return bad


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    binary = os.path.join(TOP, build, "tcpfsm")
    src = open(PAGE).read()
    fail = False

    p = run("groff", "-man", "-ww", "-z", PAGE)
    if p.returncode or p.stderr.strip():
        print(f"check-man: groff -man -ww warns:\n{p.stderr}", file=sys.stderr)
        fail = True
    if shutil.which("mandoc"):
        p = run("mandoc", "-T", "lint", "-W", "warning", PAGE)
        if p.returncode or p.stdout.strip():
            print(f"check-man: mandoc -T lint:\n{p.stdout}{p.stderr}", file=sys.stderr)
            fail = True

    cmds = commands(binary)
    opts = {c: options(binary, c) for c in cmds}
    keys, types = json_keys(binary)
    bad = problems(src, binary, cmds, opts, keys, types)
    for b in bad:
        print(f"check-man: {b}", file=sys.stderr)
    fail = fail or bool(bad)

    # the check itself must be able to fail: one option taken out
    probe = "--no-seed"
    assert probe in opts.get("trace", ()), "the probe option is gone: pick another"
    cut = re.sub(r"\\-\\-no\\-seed|--no-seed", "", src)
    if not problems(cut, binary, cmds, opts, keys, types):
        print("check-man: a page without --no-seed passed the check: "
              "the check is broken", file=sys.stderr)
        fail = True

    n_opts = sum(len(v) for v in opts.values())
    if fail:
        print("check-man: FAILED (src/tcpfsm.8)", file=sys.stderr)
        return 1
    print(f"check-man: src/tcpfsm.8 clean; {len(cmds)} commands, {n_opts} "
          f"options, {len(keys)} JSON members documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
