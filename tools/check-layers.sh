#!/usr/bin/env bash
# The layers of src/, checked from the sources' #include lines (part of
# make unit and make test): commands -> core -> base, no way back.
#
#   base      include/*.h (what the kernel and user sides share): includes
#             nothing of src/
#   core      src/core (libtcpfsm.a, libtcpfsm-bpf.a): includes no header of
#             src/cmd, and reads no CLI global (cli_*)
#   commands  src/cmd (libtcpfsm-cmd.a, main.c)
#
# and besides:
#   - libbpf and the BPF skeletons (<bpf/...>, *.skel.h) only in the live
#     source and serve's kernel side (src/core/loader.c, serve_bpf.c): the
#     rest, the commands included, reach them through those
#   - a module's private header (NAME_impl.h) only in its own files
#     (NAME*.c): pipe_impl.h in pipeline.c and pipe_*.c, engine_impl.h in
#     engine*.c, ...
#   - the headers of src/ include each other without a cycle (tsort)
#
#   tools/check-layers.sh [SRCDIR]   (default: src of this checkout)
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$here/src}
inc=$here/include
fail=0
bad() {
	echo "check-layers: $*" >&2
	fail=1
}
# the quoted includes of a file, one name a line
includes() {
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

for f in "$inc"/*.h; do
	for h in $(includes "$f"); do
		[ -e "$inc/$h" ] || bad "${f#"$here"/}: the base includes $h"
	done
done

cmd_headers=" $(cd "$src/cmd" && echo *.h) "
for f in "$src"/core/*.[ch]; do
	for h in $(includes "$f"); do
		case $cmd_headers in
		*" $h "*) bad "${f#"$here"/}: the core includes src/cmd/$h" ;;
		esac
	done
	if grep -n '\bcli_[a-z_]*' "$f" | grep -v '^[0-9]*:[[:space:]]*[/*]' >/dev/null; then
		bad "${f#"$here"/}: the core uses the CLI's $(grep -o '\bcli_[a-z_]*' "$f" | sort -u | tr '\n' ' ')"
	fi
done

for f in "$src"/*/*.[ch]; do
	case ${f#"$src"/} in
	core/loader.c | core/serve_bpf.c) continue ;;
	esac
	if grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](bpf/|[^">]*\.skel\.h)' "$f"; then
		bad "${f#"$here"/}: includes libbpf or a skeleton (only loader.c and serve_bpf.c may)"
	fi
done

for f in "$src"/*/*.[ch]; do
	base=$(basename "$f")
	for h in $(includes "$f"); do
		case $h in
		*_impl.h)
			stem=${h%_impl.h}
			case $base in
			"$stem"*) ;;
			*) bad "${f#"$here"/}: includes $h, private to $stem*.c" ;;
			esac
			;;
		esac
	done
done

# every edge "includer included" among the headers of src/ and include/
edges=$(for f in "$src"/*/*.h "$inc"/*.h; do
	for h in $(includes "$f"); do
		echo "$(basename "$f") $h"
	done
done)
if ! out=$(tsort <<<"$edges" 2>&1 >/dev/null) || [ -n "$out" ]; then
	bad "the headers include each other in a cycle: $out"
fi

[ "$fail" = 0 ] && echo "check-layers: include/ <- src/core <- src/cmd, no way back;" \
	"libbpf only in loader.c, serve_bpf.c; private headers private"
exit $fail
