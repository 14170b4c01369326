#!/usr/bin/env bash
# Install the Debian packages tcpfsm needs to build, run and test, and only
# those that are missing: a second run does nothing and prints nothing.
set -euo pipefail

pkgs=(
	make gcc clang llvm pkg-config	# build
	libbpf-dev bpftool libelf-dev zlib1g-dev	# BPF side and loader
	libcmocka-dev			# unit tests
	iproute2 nftables		# integration tests: ss, netns/veth, drops
	python3 python3-pytest python3-pytest-xdist	# integration tests
	procps				# sysctl for the benchmark
	groff-base man-db		# make test: the man page check
	qemu-system-x86 busybox-static kmod	# tools/vmtest.sh (make vmtest, vmsmoke)
	prometheus prometheus-node-exporter	# serve tests: a real scraper, promtool
)

# Versioned packages follow the clang that is (or will be) installed:
# libFuzzer for make fuzz is libclang-rt-N-dev for clang N.
clang_major() {
	local v
	if command -v clang >/dev/null; then
		v=$(clang -dumpversion 2>/dev/null) && { echo "${v%%.*}"; return; }
	fi
	# not installed yet: the version Debian's clang package depends on
	apt-cache depends clang 2>/dev/null |
		sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n 1
}
major=$(clang_major || true)
[ -n "$major" ] && pkgs+=("libclang-rt-$major-dev")	# make fuzz (libFuzzer)

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "tcpfsm: installing missing packages: ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || {
		echo "tcpfsm: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list finds nothing: refresh it once.
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
