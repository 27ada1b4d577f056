#!/usr/bin/env python3
"""Writes the man page sipward(8) (roff) from the binary itself: the
synopsis from `sipward --help`'s usage, the version from `--version`, and
the CONFIGURATION section from the option table (`sipward --config-doc`,
the table of docs/config.md), so that the page cannot drift from the
options. The rest (commands, signals, files) is written here. Usage:

    gen-man.py BIN OUT

The page's date is SOURCE_DATE_EPOCH's (set by dpkg-buildpackage from
debian/changelog) when set, for a reproducible package; else today."""

import datetime
import os
import re
import subprocess
import sys

ROW = re.compile(r"^\| `([a-z0-9_]+)` \| ([^|]+?) \| `([^`]*)` \| (.*) \|$")
# The words of the synopsis printed in bold (the rest of the words in
# capitals are placeholders, in italics).
LITERAL = {"sipward", "serve", "account", "create", "rotate-token", "db",
           "copy"}


def run(binary, flag):
    return subprocess.run([binary, flag], check=True, capture_output=True,
                          text=True).stdout


def esc(text):
    """Plain text for roff: backslashes and dashes escaped."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def prose(text):
    """Markdown-ish prose (`code` spans) as one roff text line."""
    out = []
    for i, part in enumerate(text.split("`")):
        if i % 2:
            out.append("\\fB" + esc(part) + "\\fR")
        else:
            out.append(part.replace("\\", "\\e"))
    return "\\&" + "".join(out)


def options(binary):
    lines = run(binary, "--config-doc").splitlines()
    if len(lines) < 3 or not lines[0].startswith("| name |"):
        sys.exit("gen-man: %s --config-doc: not the option table" % binary)
    rows = []
    for line in lines[2:]:
        m = ROW.match(line)
        if not m or m.group(4).count(" | ") != 1:
            sys.exit("gen-man: cannot read this option row: %r" % line)
        bounds, doc = m.group(4).split(" | ")
        rows.append((m.group(1), m.group(2), m.group(3), bounds, doc))
    return rows


def synopsis(binary):
    """The usage lines of --help, one string per command form."""
    forms = []
    for line in run(binary, "--help").splitlines():
        if not line.strip():
            break
        line = line.strip()
        if line.startswith("usage:"):
            line = line[len("usage:"):].strip()
        if line.startswith("sipward"):
            forms.append(line)
        elif forms:
            forms[-1] += " " + line
    if not forms:
        sys.exit("gen-man: %s --help: no usage lines" % binary)
    return forms


def synopsis_roff(form):
    out = []
    for word in form.split():
        m = re.match(r"^([\[|]*)(.*?)([\]]*)$", word)
        pre, core, post = m.groups()
        if core.startswith("-") or core in LITERAL:
            core = "\\fB" + esc(core) + "\\fR"
        elif core and core == core.upper() and core != "|":
            core = "\\fI" + esc(core) + "\\fR"
        else:
            core = esc(core)
        out.append(pre + core + post)
    return " ".join(out)


DESCRIPTION = r"""
.SH DESCRIPTION
\fBsipward\fR is one daemon that provisions SIP endpoints and the
applications they bind to through a REST API (compatible with Vobiz's
Endpoint and Application resources), is the SIP registrar those endpoints'
phones, softphones and browsers register with (UDP, TCP, TLS, WebSocket),
and carries their calls as a back-to-back user agent, asking the
applications' webhooks what to do. Its store is an embedded SQLite
database, or PostgreSQL for several nodes.
.PP
Installed from the Debian package, it runs as the systemd service
\fBsipward.service\fR, as the system user \fIsipward\fR, with the
configuration \fI/etc/sipward/sipward.conf\fR and its database in
\fI/var/lib/sipward\fR.
"""

# What each command of the usage does. A command that --help shows and
# this table lacks stops the build (describe it here), so that the page
# never leaves one out.
COMMANDS = {
    "serve": r"""
Runs the daemon: the REST API on \fBhttp\fR, the SIP listeners on
\fBsip\fR (and \fBsip_tls\fR, \fBsip_ws\fR, \fBsip_wss\fR when set), the
admin listener on \fBadmin_http\fR. On an empty database it creates the
first account and prints it once on standard output, as one JSON line
with its \fBauth_id\fR, \fBauth_token\fR and \fBdomain\fR (under systemd,
into the journal). It tells systemd when it is ready (\fBsd_notify\fR
READY=1) and feeds its watchdog while its event loops turn.""",
    "account create": r"""
Adds an account and prints it once, as one JSON line with its
\fBauth_id\fR, \fBauth_token\fR and \fBdomain\fR. The token is stored only
as a hash (and sealed under the server key) and never shown again. Works
while the server runs. Run it as the user the service runs as, so that
the files it creates belong to that user:
\fBrunuser \-u sipward \-\- sipward account create \-\-config
/etc/sipward/sipward.conf\fR.""",
    "account rotate-token": r"""
Gives the account \fIAUTH_ID\fR a new auth token and prints it once.""",
    "db copy": r"""
Copies every row of one store into another (e.g. an SQLite database into
an empty PostgreSQL one); see \fI/usr/share/doc/sipward/operations.md\fR.""",
    "db backup": r"""
Copies an SQLite database, consistently, into the file \fB\-\-to\fR while
the server runs; an existing file is replaced only with \fB\-\-force\fR.
It prints one JSON line (where, pages, bytes, seconds). The server key
beside the database is a secret and is not copied: back it up apart.
PostgreSQL is backed up with \fBpg_dump\fR(1).""",
}

# Every flag of the usage. As above, one missing here stops the build.
FLAGS = {
    "--config": ("FILE", r"""
Reads the configuration file \fIFILE\fR (\fBname = value\fR lines,
\fB#\fR comments; see CONFIGURATION). A file that does not parse, or an
option out of its bounds, stops the command with exit status 2 and one
line naming the file, the line and what is wrong."""),
    "--db": ("URL", r"""
The store: \fBsqlite:\fR\fIPATH\fR or a \fBpostgresql://\fR URI (the
\fBdb\fR option)."""),
    "--http": ("HOST:PORT", r"""
The REST API's listen address (the \fBhttp\fR option)."""),
    "--sip": ("HOST:PORT", r"""
The SIP listen address, UDP and TCP (the \fBsip\fR option)."""),
    "--domain": ("NAME", r"""
The SIP domain of the accounts created (the \fBdomain\fR option)."""),
    "--name": ("NAME", r"""
The name of the account that \fBaccount create\fR makes."""),
    "--from": ("URL", r"""
The store that \fBdb copy\fR reads."""),
    "--to": ("URL", r"""
The store that \fBdb copy\fR writes, or the file that \fBdb backup\fR
writes."""),
    "--force": (None, r"""
Lets \fBdb backup\fR replace an existing file."""),
    "--help": (None, r"""
Prints the usage and every option with its default, and exits."""),
    "--version": (None, r"""
Prints \fBsipward\fR and its version, and exits."""),
}

CONFIGURATION = r"""
.SH CONFIGURATION
Every option has a default, can be set in the file given with
\fB\-\-config\fR, is overridden by the environment variable
\fBSIPWARD_\fR\fINAME\fR (the option's name in capitals), and for
\fBdb\fR, \fBhttp\fR, \fBsip\fR and \fBdomain\fR by a flag. The options
follow, with their form and default.
"""


def command_of(form):
    """'sipward db copy --from URL ...' -> 'db copy' (None for --help)."""
    words = []
    for w in form.split()[1:]:
        if not re.match(r"^[a-z][a-z-]*$", w):
            break
        words.append(w)
    return " ".join(words) or None


def flags_of(forms):
    seen = []
    for form in forms:
        for f in re.findall(r"--[a-z][a-z-]*", form):
            if f not in seen:
                seen.append(f)
    return seen


def sections(forms):
    out = []
    missing = []
    out.append(".SH COMMANDS")
    for form in forms:
        cmd = command_of(form)
        if cmd is None:
            continue
        if cmd not in COMMANDS:
            missing.append("command %r" % cmd)
            continue
        # its operands: the words in capitals right after the command
        args = []
        for w in form.split(cmd, 1)[1].split():
            if not re.match(r"^[A-Z][A-Z_]*$", w):
                break
            args.append(w)
        out.append(".TP")
        out.append("\\fB%s\\fR%s" % (esc(cmd), "".join(
            " \\fI%s\\fR" % esc(a) for a in args)))
        out.append(COMMANDS[cmd].strip("\n"))
    out.append(".SH OPTIONS")
    for flag in flags_of(forms):
        if flag not in FLAGS:
            missing.append("flag %r" % flag)
            continue
        arg, text = FLAGS[flag]
        out.append(".TP")
        out.append("\\fB%s\\fR%s" % (esc(flag),
                                     " \\fI%s\\fR" % esc(arg) if arg else ""))
        out.append(text.strip("\n"))
    if missing:
        sys.exit("gen-man: sipward --help shows %s, which scripts/gen-man.py "
                 "does not describe: add it to COMMANDS or FLAGS there"
                 % ", ".join(missing))
    return out


BODY_BOTTOM = r"""
.SH ENVIRONMENT
.TP
.BI SIPWARD_ NAME
Sets the option \fIname\fR (e.g. \fBSIPWARD_LOG_LEVEL=debug\fR), over the
configuration file.
.TP
.BR NOTIFY_SOCKET ", " WATCHDOG_USEC
Set by systemd: where \fBserve\fR sends its readiness, reload, stopping and
watchdog notifications, and how often the watchdog must be fed.
.SH SIGNALS
.TP
.B SIGHUP
Reopens \fBlog_file\fR and reloads the TLS certificate and key
(\fBsystemctl reload sipward\fR). Other options need a restart.
.TP
.BR SIGTERM ", " SIGINT
Stops accepting, finishes the requests and SIP transactions in progress,
commits the queued writes, and exits 0; past \fBshutdown_timeout\fR
seconds it exits 1 at once.
.SH FILES
.TP
.I /etc/sipward/sipward.conf
The configuration read by \fBsipward.service\fR; every option is in it,
commented out at its default. Owned by root, group sipward, mode 0640:
it may hold secrets.
.TP
.I /var/lib/sipward/sipward.db
The SQLite database of the packaged configuration (with its
\fI\-wal\fR and \fI\-shm\fR files). Kept when the package is removed or
purged.
.TP
.I /var/lib/sipward/sipward.db.key
The server key (\fBkey_file = auto\fR beside the database), created by
the first \fBserve\fR or \fBaccount create\fR, mode 0600. Back it up
apart from the database.
.TP
.I /lib/systemd/system/sipward.service
The systemd unit; change it with \fBsystemctl edit sipward\fR.
.SH EXIT STATUS
0 on success; 1 when the command failed (a store, a listener, a key file);
2 on a bad flag, a bad configuration file or a bad option value.
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1),
.BR systemd.exec (5);
the documentation in \fI/usr/share/doc/sipward/\fR (gzipped):
\fBpackage.md\fR
(this package), \fBconfig.md\fR, \fBoperations.md\fR, \fBapi.md\fR,
\fBcalls.md\fR.
"""


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, out = sys.argv[1:]
    version = run(binary, "--version").split()[-1]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
            if epoch else datetime.datetime.now(datetime.timezone.utc))
    page = ['.\\" sipward(8), generated by scripts/gen-man.py from the '
            'sipward binary: do not edit.',
            '.TH SIPWARD 8 "%s" "sipward %s" "System Administration"'
            % (when.strftime("%Y-%m-%d"), esc(version)),
            ".SH NAME",
            "sipward \\- SIP endpoint platform: REST API, SIP registrar "
            "and call engine",
            ".SH SYNOPSIS",
            ".nf"]
    page += [synopsis_roff(f) for f in synopsis(binary)]
    page.append(".fi")
    page.append(DESCRIPTION.strip("\n"))
    page += sections(synopsis(binary))
    page.append(CONFIGURATION.strip("\n"))
    for name, typ, default, bounds, doc in options(binary):
        page.append(".TP")
        page.append("\\fB%s\\fR (%s; default: %s)"
                    % (esc(name), esc(typ),
                       "\\fB" + esc(default) + "\\fR" if default
                       else "empty"))
        page.append(prose("Form: " + bounds + "."))
        page.append(".br")
        page.append(prose(doc[:1].upper() + doc[1:] + "."))
    page.append(BODY_BOTTOM.strip("\n"))
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(page) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
