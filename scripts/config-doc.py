#!/usr/bin/env python3
"""The options table of docs/config.md is generated from src/cfg/cfg.c's
table (`sipward --config-doc`). Usage:

    config-doc.py --check BIN DOC   fails when DOC's table is not BIN's
    config-doc.py --write BIN DOC   rewrites DOC's table (make docs)

The table sits between the BEGIN and END marker lines."""

import subprocess
import sys

BEGIN = "<!-- BEGIN options: generated from src/cfg/cfg.c by make docs -->"
END = "<!-- END options -->"


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("--check", "--write"):
        print(__doc__)
        return 2
    mode, binary, doc = sys.argv[1:]
    table = subprocess.run([binary, "--config-doc"], check=True,
                           capture_output=True, text=True).stdout
    text = open(doc, encoding="utf-8").read()
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        old, tail = rest.split(END + "\n", 1)
    except ValueError:
        print("config-doc: %s lacks the marker lines %r and %r"
              % (doc, BEGIN, END))
        return 1
    if mode == "--write":
        with open(doc, "w", encoding="utf-8") as f:
            f.write(head + BEGIN + "\n" + table + END + "\n" + tail)
        return 0
    if old != table:
        import difflib
        sys.stdout.writelines(difflib.unified_diff(
            old.splitlines(True), table.splitlines(True),
            doc + " (now)", "sipward --config-doc"))
        print("config-doc: %s is out of date: run `make docs`" % doc)
        return 1
    print("config-doc: %s matches the option table" % doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
