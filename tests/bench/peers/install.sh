#!/bin/sh
# install.sh [DIR]: installs the peers pinned by package-lock.json with
# `npm ci` into DIR (default: this directory), unless DIR already holds
# exactly that lock file's packages. peers.js finds them with
# KBP_PEERS_MODULES=DIR.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here}
command -v npm >/dev/null 2>&1 || { echo "install.sh: npm is missing (install Node.js with npm)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "$dir" != "$here" ]; then
	cp "$here/package.json" "$here/package-lock.json" "$dir/"
fi
# npm ci rewrites node_modules/.package-lock.json from the lock file: equal means installed.
if [ -f "$dir/node_modules/.package-lock.json" ] &&
	node -e '
		const [a, b] = process.argv.slice(1).map((f) => require(f).packages);
		delete a[""];
		const same = (x, y) => Object.keys(x).length === Object.keys(y).length &&
			Object.keys(x).every((k) => y[k] && y[k].version === x[k].version);
		process.exit(same(a, b) ? 0 : 1);' "$dir/package-lock.json" "$dir/node_modules/.package-lock.json"; then
	exit 0
fi
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error >&2
