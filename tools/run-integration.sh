#!/usr/bin/env bash
# Root integration tests: load the real BPF program, drive real TCP traffic.
# Slow scenarios (TIME_WAIT expiry takes ~60 s) run in parallel with the rest.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
# Not root: a failure, so that `make test` cannot pass without having run
# them; skipping is an explicit choice.
if [ "$(id -u)" != 0 ]; then
	if [ "${TCPFSM_SKIP_INTEGRATION:-}" = 1 ]; then
		echo "integration tests skipped (TCPFSM_SKIP_INTEGRATION=1; they need root)" >&2
		exit 0
	fi
	echo "integration tests need root (they load BPF programs); run as root, or set TCPFSM_SKIP_INTEGRATION=1 to skip them" >&2
	exit 1
fi
export TCPFSM_BIN="$here/$build/tcpfsm"
export TCPFSM_TOOLS="$here/$build/tools"
# -rs: every skip says why, in the summary
exec /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider -n 4 --dist loadfile \
	"$here/tests/integration" "${@:2}"
