#!/bin/sh
# Build a Python tool into a toolhost component:
#
#   sdk/python/build.sh <plugin-dir> <out.wasm>
#
# The plugin directory holds tool.py (and any pure-Python modules or packages
# it imports), which defines any number of tools, resources and prompts with
# the decorators of toolhost.py. On first use, and again only when requirements.txt or the
# python3 version changes, this installs the pinned componentize-py into a
# virtual environment (default: target/componentize-py at the top of the
# repository; override with TOOLHOST_PY_VENV). The WIT bindings are generated
# at build time; the output is written atomically.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${TOOLHOST_PY_VENV:-$repo/target/componentize-py}
wit=${TOOLHOST_WIT:-$repo/wit/0.2}

die() { echo "build.sh: $*" >&2; exit 2; }

[ $# -eq 2 ] || die "usage: $0 <plugin-dir> <out.wasm>"
[ -f "$1/tool.py" ] || die "$1 has no tool.py"
[ -d "$wit" ] || die "WIT directory $wit does not exist"
plugin=$(cd "$1" && pwd)
outdir=$(mkdir -p "$(dirname "$2")" && cd "$(dirname "$2")" && pwd)
out="$outdir/$(basename "$2")"

command -v python3 >/dev/null 2>&1 || die "python3 (3.10 or later) is not installed"
want="$(cksum < "$here/requirements.txt") $(python3 -c 'import sys; print(sys.version)')"
stamp="$venv/.toolhost-requirements"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "build.sh: installing componentize-py into $venv" >&2
    python3 -m venv --clear "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    printf '%s\n' "$want" > "$stamp"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/toolhost-py.XXXXXX")
tmp="$outdir/.$(basename "$out").$$.tmp"
trap 'rm -rf "$work" "$tmp"' EXIT INT TERM

# The component's entry module: the plugin's tool.py, exported by toolhost.WitWorld.
cat > "$work/toolhost_app.py" <<'PY'
import tool  # noqa: F401  (registers its tools, resources and prompts)
import toolhost
from toolhost import WitWorld  # noqa: F401

toolhost._check_registered()  # nothing defined: fail the build, not the first call
PY

# The build reads copies: componentize-py writes __pycache__ next to what it imports.
mkdir "$work/plugin" "$work/sdk"
cp -R "$plugin/." "$work/plugin/"
cp "$here/toolhost.py" "$work/sdk/"
find "$work" -name __pycache__ -prune -exec rm -rf {} +

# The kit's world: the contract's `tools` world (which brings its own deps,
# wasi:config/store for ctx.config), plus the standard WASI interfaces the
# helper uses for ctx.http and ctx.api_url (wasi:http's outgoing handler and
# wasi:cli's environment, 0.2.12 as wasmtime 48 serves them; the WIT in
# wit/deps here is WASI's own).
pkg=$(sed -n 's/^[[:space:]]*package[[:space:]]\{1,\}\([^;[:space:]]*\)[[:space:]]*;.*/\1/p' "$wit"/*.wit | head -n 1)
[ -n "$pkg" ] || die "no .wit file in $wit declares a package"
mkdir -p "$work/wit/deps/contract"
cp "$wit"/*.wit "$work/wit/deps/contract/"
[ ! -d "$wit/deps" ] || cp -R "$wit/deps/." "$work/wit/deps/"
cp -R "$here/wit/deps/." "$work/wit/deps/"
cat > "$work/wit/kit.wit" <<WIT
package toolhost:python-kit;

world tools {
    include ${pkg%@*}/tools@${pkg#*@};
    import wasi:http/outgoing-handler@0.2.12;
    import wasi:cli/environment@0.2.12;
}
WIT

# No VIRTUAL_ENV: componentize-py would add that environment's packages to the
# component. No backtrace: an error in tool.py is reported as a Python traceback.
env -u VIRTUAL_ENV RUST_LIB_BACKTRACE=0 "$venv/bin/componentize-py" --quiet -d "$work/wit" -w tools \
    componentize toolhost_app -p "$work" -p "$work/plugin" -p "$work/sdk" -o "$tmp"
mv "$tmp" "$out"
echo "build.sh: wrote $out ($(wc -c < "$out") bytes)" >&2
