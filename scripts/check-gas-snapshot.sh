#!/usr/bin/env bash
# `forge snapshot --check` against .gas-snapshot, failing on any difference: forge 1.7 prints
# "Diff in ..." for a changed figure and "No matching snapshot entry ..." for a test missing from
# the file but still exits 0, so its output is checked as well.
set -uo pipefail
forge="${FORGE:-forge}"
out="$("$forge" snapshot --check "$@" 2>&1)"
status=$?
printf '%s\n' "$out"
if [ "$status" -ne 0 ]; then
    exit "$status"
fi
if printf '%s\n' "$out" | grep -qE '^(Diff in |No matching snapshot entry)'; then
    echo "gas differs from .gas-snapshot (run 'forge snapshot $*' if the change is intended)" >&2
    exit 1
fi
