#!/usr/bin/env bash
# Run one command in this checkout under another kernel: a Debian kernel
# package booted in QEMU with this machine's root filesystem shared
# read-only over 9p, a tmpfs overlay on top, and no network but loopback.
#
#   tools/vmtest.sh [-k KERNEL] [-m MEM] [-c CPUS] [-t SECONDS] -- COMMAND...
#
# KERNEL is a series (6.1, 6.12: the newest Debian package of it that apt
# knows) or a package name (linux-image-6.1.0-57-amd64). The package is
# fetched with apt-get download and unpacked (dpkg-deb -x) into the cache
# ($TCPFSM_VM_CACHE, default ~/.cache/tcpfsm-vm), never installed; once
# there, no network is needed. The guest runs COMMAND as root in the current
# directory and the script exits with its exit status (or 125 when the guest
# did not report one: boot failure, timeout). KVM when /dev/kvm is usable,
# else TCG in one host thread (TCPFSM_VM_ACCEL overrides). The guest's
# /lib/modules is the package's, so module autoload (veth, nftables)
# works. Needs: qemu-system-x86, busybox-static, kmod.
set -euo pipefail

kernel=6.1
mem=1536
cpus=2
timeout_s=900
usage() {
	echo "usage: $0 [-k KERNEL] [-m MiB] [-c CPUS] [-t SECONDS] -- COMMAND..." >&2
	exit 2
}
while getopts "k:m:c:t:h" opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	m) mem=$OPTARG ;;
	c) cpus=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage

die() {
	echo "vmtest: $*" >&2
	exit 125
}
for tool in qemu-system-x86_64 busybox depmod modprobe dpkg-deb; do
	command -v "$tool" >/dev/null ||
		die "$tool is missing (tools/deps.sh installs qemu-system-x86, busybox-static, kmod)"
done
[ "$(id -u)" = 0 ] || die "must run as root (the 9p share exports / as root)"

cache=${TCPFSM_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tcpfsm-vm}
mkdir -p "$cache"

# A series resolves to the newest package apt knows, or else to the newest
# one already unpacked in the cache (offline, and apt lists may be gone).
case $kernel in
linux-image-*) pkg=$kernel ;;
6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
[0-9]*.[0-9]*) pattern="^linux-image-${kernel//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64\$" ;;
*) usage ;;
esac
if [ -z "${pkg:-}" ]; then
	newest() {
		apt-cache search --names-only "$pattern" 2>/dev/null |
			cut -d' ' -f1 | sort -V | tail -n1
	}
	pkg=$(newest)
	# an empty package list (a fresh container) knows none: refresh once
	if [ -z "$pkg" ] && apt-get update -qq >/dev/null 2>&1; then
		pkg=$(newest)
	fi
	if [ -z "$pkg" ]; then
		pkg=$(find "$cache" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' |
			grep -E "$pattern" | sort -V | tail -n1 || true)
	fi
	[ -n "$pkg" ] || die "no Debian package for kernel $kernel (apt-get update?)"
fi

root=$cache/$pkg
if [ ! -e "$root/.unpacked" ]; then
	echo "vmtest: fetching $pkg into $cache" >&2
	(cd "$cache" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		die "apt-get download $pkg failed"
	deb=$(ls -t "$cache/${pkg}"_*.deb | head -n1)
	rm -rf "$root"
	dpkg-deb -x "$deb" "$root"
	rm -f "$deb"
	touch "$root/.unpacked"
fi
kver=$(ls "$root/lib/modules" | head -n1)
vmlinuz=$root/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || die "$pkg has no /boot/vmlinuz-$kver"

# The initramfs: busybox, the modules to reach the root (9p over virtio,
# overlayfs) in load order, and an /init that mounts the overlay and hands
# over to the job's script. Built once per package.
initrd=$root/vmtest-initrd.cpio.gz
if [ ! -s "$initrd" ] || [ "$initrd" -ot "$0" ]; then
	depmod -b "$root" "$kver"
	ird=$(mktemp -d)
	trap 'rm -rf "$ird"' EXIT
	mkdir -p "$ird"/{bin,dev,proc,sys,lower,upper,newroot,mod}
	cp "$(command -v busybox)" "$ird/bin/busybox"
	for m in virtio_pci 9pnet_virtio 9p overlay; do
		modprobe -d "$root" -S "$kver" --show-depends "$m"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$ird/order"
	i=0
	: > "$ird/mod/list"
	while read -r ko; do
		name=$(printf '%02d-%s' $i "$(basename "${ko%.xz}")")
		case $ko in
		*.xz) xz -dc "$ko" > "$ird/mod/$name" ;;
		*) cp "$ko" "$ird/mod/$name" ;;
		esac
		echo "$name" >> "$ird/mod/list"
		i=$((i + 1))
	done < "$ird/order"
	cat > "$ird/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mod/list); do insmod /mod/$m || echo "vmtest: insmod $m failed"; done
fail() { echo "vmtest: $*"; echo o > /proc/sysrq-trigger; sleep 10; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose \
	hostroot /lower || fail "cannot mount the host's root over 9p"
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work \
	overlay /newroot || fail "cannot mount the overlay"
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mount -t tmpfs -o mode=0755 run /newroot/run
mount -t tmpfs -o mode=1777 tmp /newroot/tmp
mkdir -p /newroot/run/vmtest
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 job /newroot/run/vmtest ||
	fail "cannot mount the job directory"
umount /proc /sys /dev 2>/dev/null
exec switch_root /newroot /bin/sh /run/vmtest/guest.sh
EOF
	chmod 755 "$ird/init"
	(cd "$ird" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$ird"
	trap - EXIT
fi

job=$(mktemp -d "$cache/job.XXXXXX")
trap 'rm -rf "$job"' EXIT
{
	echo '#!/bin/sh'
	echo "# written by tools/vmtest.sh: the guest's side of one run"
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root'
	echo 'mkdir -p /dev/pts /dev/shm /lib/modules; mount -t devpts devpts /dev/pts; mount -t tmpfs shm /dev/shm'
	echo 'mount -t cgroup2 cgroup2 /sys/fs/cgroup'
	echo 'mount -t bpf bpf /sys/fs/bpf; mount -t tracefs tracefs /sys/kernel/tracing'
	echo 'mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null'
	# a fresh /tmp and /var/tmp, unless the checkout is in one of them:
	# then the host's, through the overlay (writes stay in the guest)
	case "$PWD" in
	/tmp | /tmp/*) echo 'umount /tmp' ;;
	/var/tmp | /var/tmp/*) ;;
	*) echo 'mount -t tmpfs -o mode=1777 vartmp /var/tmp' ;;
	esac
	echo "mount --bind '$root/lib/modules' /lib/modules"
	echo 'echo 1 > /proc/sys/kernel/printk; ip link set lo up; hostname vmtest'
	echo 'echo "vmtest: booted $(uname -r) in $(cut -d" " -f1 /proc/uptime) s"'
	printf 'cd %q || { echo "vmtest: the checkout %q is not visible in the guest" >&2; echo 125 > /run/vmtest/rc; exit 125; }\n' "$PWD" "$PWD"
	printf '%q ' "$@"
	echo
	echo 'echo $? > /run/vmtest/rc'
	echo 'sync; echo o > /proc/sysrq-trigger; while :; do :; done'
} > "$job/guest.sh"
chmod 755 "$job/guest.sh"

# KVM when it works. /dev/kvm can be there and still not run a kernel (a
# nested hypervisor runs the BIOS, then the kernel hangs with no output):
# boot the kernel once with early output and wait up to 10 s for its
# banner. The verdict is kept for this host boot.
kvm_works() {
	local verdict=$cache/kvm.$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	if [ ! -e "$verdict" ]; then
		rm -f "$cache"/kvm.*
		timeout 10 qemu-system-x86_64 -accel kvm -cpu host -m 256 \
			-nodefaults -no-reboot -display none -serial stdio \
			-kernel "$vmlinuz" -append "console=ttyS0 earlyprintk=ttyS0 panic=-1 rdinit=/none" \
			</dev/null 2>/dev/null | grep -q -m1 'Linux version' &&
			echo yes > "$verdict" || echo no > "$verdict"
	fi
	[ "$(cat "$verdict")" = yes ]
}
# TCG runs every vCPU in one host thread (thread=single): with a thread
# each (MTTCG), Debian's 6.12 oopsed twice on int3 at tracepoint sites
# being patched while another vCPU ran them (tests attach and detach
# programs all along); in one thread, none in a full run.
accel=${TCPFSM_VM_ACCEL:-}
if [ -z "$accel" ]; then
	accel=tcg,thread=single
	kvm_works && accel=kvm
fi
cpu=max
[ $accel = kvm ] && cpu=host

echo "vmtest: booting $pkg ($accel, $cpus CPUs, $mem MiB)" >&2
start=$(date +%s.%N)
set +e
timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
	-accel $accel -cpu $cpu -smp "$cpus" -m "$mem" \
	-nodefaults -no-reboot -display none -serial stdio -nic none \
	-kernel "$vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 rdinit=/init quiet loglevel=3 panic=-1 ${TCPFSM_VM_APPEND:-}" \
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev local,id=job,path="$job",security_model=none \
	-device virtio-9p-pci,fsdev=job,mount_tag=job </dev/null
qrc=$?
set -e
end=$(date +%s.%N)
if [ ! -s "$job/rc" ]; then
	[ $qrc = 124 ] && die "the guest ran out of time (${timeout_s} s)"
	die "the guest reported no exit status (qemu exit $qrc)"
fi
rc=$(cat "$job/rc")
echo "vmtest: $pkg: exit $rc after $(awk "BEGIN { printf \"%.1f\", $end - $start }") s" >&2
exit "$rc"
