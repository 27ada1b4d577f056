#!/bin/sh
# Installs the npm packages pinned by SRC/package-lock.json (SRC:
# tests/node by default; console for the web console's JsSIP) into
# DEST/node_modules (DEST: a directory of the build tree), with `npm ci`.
# Does nothing, and needs no network, when DEST already holds exactly that
# lockfile's install: the lockfile copied at the last install is the same,
# and every package package.json pins is in node_modules at that version.
# Never downloads a browser (PUPPETEER_SKIP_DOWNLOAD): puppeteer-core drives
# Debian's /usr/bin/chromium. Exits 0 when node or npm is missing (the tests
# that need them then skip and say so, the console is built without its
# softphone); fails when npm is there and fails.
# Usage: npm-deps.sh DEST [SRC]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dest=$1
src=${2:-"$here/tests/node"}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "npm-deps: node or npm not found; the node tests will skip" >&2
	exit 0
fi
export PUPPETEER_SKIP_DOWNLOAD=1
export NPM_CONFIG_UPDATE_NOTIFIER=false
mkdir -p "$dest"
# True when every dependency package.json pins is installed at that exact
# version (a package added to package.json since the last install is not).
all_present() {
	node -e '
		const fs = require("fs"), path = require("path");
		const [pkg, mods] = process.argv.slice(1);
		const deps = JSON.parse(fs.readFileSync(pkg, "utf8"))
			.dependencies || {};
		const ok = Object.entries(deps).every(([name, want]) => {
			try {
				const p = path.join(mods, name, "package.json");
				return JSON.parse(fs.readFileSync(p, "utf8"))
					.version === want;
			} catch (e) {
				return false;
			}
		});
		process.exit(ok ? 0 : 1);
	' "$src/package.json" "$dest/node_modules"
}
if [ -f "$dest/installed.lock" ] &&
	cmp -s "$src/package-lock.json" "$dest/installed.lock" && all_present; then
	exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
rm -f "$dest/installed.lock"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cp "$src/package-lock.json" "$dest/installed.lock"
echo "npm-deps: installed $src/package-lock.json into $dest" >&2
