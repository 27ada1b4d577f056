#!/bin/sh
# Installs the Debian packages listed in deps/debian-packages.txt (or in the
# list file given as the only argument, e.g. deps/debian-packages-bench.txt)
# that are missing. Idempotent: does nothing (and needs no network) when all
# are there.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
list="${1:-$here/deps/debian-packages.txt}"
missing=""
for p in $(grep -v '^#' "$list" | sed 's/[[:space:]]*$//' | grep -v '^$'); do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	exit 0
fi
echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install packages (run as root or with sudo)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
