#!/usr/bin/env bash
# make install DESTDIR=... PREFIX=... puts the binary, the man page, the
# bash completion and serve's systemd unit where they belong; man renders
# the installed page; the completion loads and completes; the unit starts
# the installed binary; make uninstall removes all four.
# Part of make test. Usage: check-install.sh BUILD
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

prefix=/opt/tcpfsm-check
make -s -C "$here" --no-print-directory BUILD="$build" DESTDIR="$dest" \
	PREFIX="$prefix" install >/dev/null || fail "make install failed"
bin=$dest$prefix/bin/tcpfsm
page=$dest$prefix/share/man/man8/tcpfsm.8
comp=$dest$prefix/share/bash-completion/completions/tcpfsm
unit=$dest$prefix/lib/systemd/system/tcpfsm-serve.service
for f in "$bin" "$page" "$comp" "$unit"; do
	[ -f "$f" ] || fail "make install did not install $f"
done
[ -x "$bin" ] || fail "$bin is not executable"
"$bin" --version | grep -q '^tcpfsm ' || fail "the installed binary does not run"
grep -qx "ExecStart=$prefix/bin/tcpfsm serve.*" "$unit" ||
	fail "$unit does not start the installed binary"
# the page renders: its name and every command's section
text=$(MANWIDTH=80 man -l "$page" 2>&1) || fail "man -l $page failed"
for w in "NAME" "SYNOPSIS" "EXIT STATUS" \
	"tcpfsm snapshot" "tcpfsm serve" "JSON OUTPUT"; do
	grep -qF -- "$w" <<<"$text" || fail "man -l: '$w' not in the rendered page"
done
# the completion completes the commands
got=$(PATH="$(dirname "$bin"):$PATH" bash -c "source '$comp'
COMP_WORDS=(tcpfsm sn); COMP_CWORD=1; _tcpfsm; echo \"\${COMPREPLY[*]}\"") ||
	fail "the completion does not load"
[ "$got" = snapshot ] || fail "completion of 'tcpfsm sn' gave '$got'"

make -s -C "$here" --no-print-directory BUILD="$build" DESTDIR="$dest" \
	PREFIX="$prefix" uninstall >/dev/null || fail "make uninstall failed"
for f in "$bin" "$page" "$comp" "$unit"; do
	[ ! -e "$f" ] || fail "make uninstall left $f"
done
echo "check-install: binary, man page, completion and unit installed, rendered, removed"
