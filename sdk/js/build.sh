#!/bin/sh
# Build a JavaScript tool into a toolhost component:
#
#   sdk/js/build.sh <plugin-dir | entry.js> <out.wasm>
#
# Installs the pinned toolchain (package-lock.json) into node_modules here on
# first use, and again only when the lock file changes; then runs build.mjs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
lock="$here/package-lock.json"
stamp="$here/node_modules/.toolhost-lock"

command -v node >/dev/null 2>&1 || { echo "build.sh: node (20 or later) is not installed" >&2; exit 2; }
want=$(cksum < "$lock")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "build.sh: installing the JavaScript toolchain (npm ci) in $here/node_modules" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
    printf '%s\n' "$want" > "$stamp"
fi
exec node "$here/build.mjs" "$@"
