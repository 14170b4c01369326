#!/usr/bin/env bash
# Run each cmocka unit-test binary; fail if any fails. Needs no root.
set -u
fail=0
for t in "$@"; do
	"$t" || { echo "FAILED: $t" >&2; fail=1; }
done
exit $fail
