#!/usr/bin/env python3
"""Fails when a file under src/ includes a layer it may not (design.md:
dependencies point downward only). Run by CTest as `layers`; usage:
check-layers.py [SRC_DIR]. Prints every offending include, then exits 1."""

import re
import sys
from pathlib import Path

# Which layers each layer's files may include (besides its own). main.c,
# at the top of src/, may include everything.
ALLOWED = {
    "base": set(),
    "cfg": {"base"},
    "http": {"base"},
    "sip": {"base"},
    "model": {"base"},
    "store": {"model", "base"},
    "svc": {"store", "model", "base"},
    "api": {"svc", "http", "cfg", "model", "base"},
    "registrar": {"svc", "sip", "model", "base"},
    "app": {"model", "base"},
    "media": {"base"},
    "call": {"svc", "sip", "app", "media", "model", "base"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)


def main():
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    bad = []
    files = 0
    for path in sorted(src.rglob("*.[ch]")):
        rel = path.relative_to(src)
        if len(rel.parts) == 1:
            continue  # main.c wires everything
        layer = rel.parts[0]
        files += 1
        if layer not in ALLOWED:
            bad.append("%s: folder %r is not a known layer (add it to "
                       "scripts/check-layers.py and design.md)" % (rel, layer))
            continue
        text = path.read_text(errors="replace")
        for m in INCLUDE.finditer(text):
            dep = m.group(1)
            if dep != layer and dep not in ALLOWED[layer]:
                line = text.count("\n", 0, m.start()) + 1
                bad.append("%s:%d: %s/ may not include %s/ (allowed: %s)" % (
                    rel, line, layer, dep,
                    ", ".join(sorted(ALLOWED[layer])) or "none"))
    for b in bad:
        print("layers: " + b)
    if not files:
        print("layers: no source files under %s" % src)
        return 1
    print("layers: %d files checked, %d bad includes" % (files, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
