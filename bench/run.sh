#!/bin/sh
# bench/run.sh - entry point of `make bench`: the sipward benchmark harness.
#   bench/run.sh [--quick]
#       [--only sip,storm,calls,http,durable,growth,callgrind,callgrind_calls,
#               scaling]   (default: all; --quick: all but scaling)
#       [--bin build/sipward] [--out DIR] [--keep]
# Loopback only. Raw results and summary.md go to bench/results/<date>/
# (gitignored); summary.md is what goes into docs/BENCHMARKS.md. See
# bench/README.md. Debian's python3 is used on purpose (like the tests).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" "$here/harness.py" "$@"
