#!/bin/sh
# Installs the npm packages pinned by tests/node/package-lock.json into
# DEST/node_modules (DEST: a directory of the build tree), with `npm ci`.
# Does nothing, and needs no network, when DEST already holds exactly that
# lockfile's install. Exits 0 when node or npm is missing (the tests that
# need them then skip and say so); fails when npm is there and fails.
# Usage: npm-deps.sh DEST
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dest=$1
src="$here/tests/node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "npm-deps: node or npm not found; the node tests will skip" >&2
	exit 0
fi
mkdir -p "$dest"
if [ -f "$dest/installed.lock" ] && [ -d "$dest/node_modules/plivo" ] &&
	cmp -s "$src/package-lock.json" "$dest/installed.lock"; then
	exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
rm -f "$dest/installed.lock"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cp "$src/package-lock.json" "$dest/installed.lock"
echo "npm-deps: installed tests/node/package-lock.json into $dest" >&2
