#!/bin/sh
# Print tcpfsm's version: from git when built from a clone of this
# repository (a tag vX.Y.Z gives X.Y.Z-N-gHASH; with no tag,
# BASE-gHASH; "-dirty" with uncommitted changes), else BASE.
base=${1:?usage: version.sh BASE}
here=$(cd "$(dirname "$0")/.." && pwd)
top=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null)
# a tarball unpacked inside some other repository is not a clone
if [ -n "$top" ] && [ "$(cd "$top" && pwd)" = "$here" ]; then
	if d=$(git -C "$here" describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		echo "${d#v}"
		exit 0
	fi
	if h=$(git -C "$here" rev-parse --short HEAD 2>/dev/null); then
		dirty=
		git -C "$here" diff --quiet HEAD -- 2>/dev/null || dirty=-dirty
		echo "$base-g$h$dirty"
		exit 0
	fi
fi
echo "$base"
