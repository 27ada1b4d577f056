#!/usr/bin/env python3
"""Writes the packaged /etc/sipward/sipward.conf from the binary's option
table (`sipward --config-doc`, the table of docs/config.md): every option,
commented out, with its form, default and documentation, except those
given with --set, which are written uncommented. Usage:

    gen-conf.py BIN OUT [--set NAME=VALUE]...

Uncommenting every `#name = value` line gives a file that sipward accepts
(tests/package checks it). Fails on a table row it cannot read, so that a
change of the table's shape stops the package build instead of shipping a
wrong file."""

import re
import subprocess
import sys
import textwrap

ROW = re.compile(r"^\| `([a-z0-9_]+)` \| ([^|]+?) \| `([^`]*)` \| (.*) \|$")

HEADER = """\
# /etc/sipward/sipward.conf: the configuration of sipward serve, read by
# the systemd unit sipward.service (sipward(8), /usr/share/doc/sipward/).
#
# Lines are `name = value`; `#` starts a comment line. Every option is
# listed below with its documentation, commented out at its default:
# remove the `#` in front of a name to set it. An environment variable
# SIPWARD_<NAME> overrides this file (e.g. in a drop-in made with
# `systemctl edit sipward`: Environment=SIPWARD_LOG_LEVEL=debug), and the
# flags --db, --http, --sip and --domain override both.
#
# This file may hold secrets (db passwords, secret_key, sip_nonce_secret,
# sip_gateway_password): the package installs it root:sipward, mode 0640.
# Changes take effect at `systemctl restart sipward` (`reload` reopens
# only log_file and the TLS certificate).
"""


def options(binary):
    """The rows of `BIN --config-doc`: (name, type, default, bounds, doc)."""
    text = subprocess.run([binary, "--config-doc"], check=True,
                          capture_output=True, text=True).stdout
    lines = text.splitlines()
    if len(lines) < 3 or not lines[0].startswith("| name |"):
        sys.exit("gen-conf: %s --config-doc: not the option table" % binary)
    rows = []
    for line in lines[2:]:
        m = ROW.match(line)
        if not m or m.group(4).count(" | ") != 1:
            sys.exit("gen-conf: cannot read this option row: %r" % line)
        bounds, doc = m.group(4).split(" | ")
        rows.append((m.group(1), m.group(2), m.group(3), bounds, doc))
    return rows


def comment(text, indent="# "):
    return "\n".join(textwrap.wrap(text, 76, initial_indent=indent,
                                   subsequent_indent=indent,
                                   break_long_words=False,
                                   break_on_hyphens=False))


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__)
        return 2
    binary, out = args[0], args[1]
    sets = {}
    rest = args[2:]
    while rest:
        if rest[0] != "--set" or len(rest) < 2 or "=" not in rest[1]:
            print(__doc__)
            return 2
        name, value = rest[1].split("=", 1)
        sets[name] = value
        rest = rest[2:]
    rows = options(binary)
    names = {r[0] for r in rows}
    unknown = sorted(set(sets) - names)
    if unknown:
        sys.exit("gen-conf: --set of unknown options: %s" % ", ".join(unknown))
    parts = [HEADER]
    for name, typ, default, bounds, doc in rows:
        lines = [comment("%s (%s; %s)" % (name, typ, bounds)),
                 comment(doc, "#   "),
                 "#   default: %s" % (default if default else "(empty)")]
        if typ.endswith("(secret)"):
            lines.append("#   secret: never printed or logged")
        if name in sets:
            lines.append("#   set by the package:")
            lines.append(("%s = %s" % (name, sets[name])).rstrip())
        else:
            lines.append(("#%s = %s" % (name, default)).rstrip())
        parts.append("\n".join(lines) + "\n")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
