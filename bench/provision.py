"""provision.py - bulk endpoints for the benchmark: rows written straight into
sipward's SQLite file (schema created by the server itself), the same users
in a Kamailio subscriber table, and the sipp injection file.

Users are deterministic: user i is "u%07d" % i with password "pw-%07d-bench",
so every piece of the harness can derive credentials without a lookup.
The HA1 columns follow src/store/sqlite.c and docs/architecture.md:
ha1_md5 = MD5("user:domain:password"), ha1_sha256 = SHA-256 of the same
string, lower-case hex; endpoint_id is 15 random decimal digits, first
non-zero, unique.
"""
import hashlib
import os
import random
import sqlite3
import time

KAMAILIO_SQL_DIR = "/usr/share/kamailio/db_sqlite"


def username(i):
    return "u%07d" % i


def password(i):
    return "pw-%07d-bench" % i


def _endpoint_ids(n, seed):
    rnd = random.Random(seed)
    seen = set()
    out = []
    while len(out) < n:
        v = str(rnd.randrange(10 ** 14, 10 ** 15))
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def sipward_endpoints(db_path, account_id, domain, n, seed=1, batch=50000):
    """Inserts endpoints u0000000..u{n-1} for account_id in one transaction.
    Returns the endpoint ids, index i for user i. The file must already hold
    the schema (the server created it) and no endpoints."""
    ids = _endpoint_ids(n, seed)
    now = int(time.time() * 1000)
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("BEGIN IMMEDIATE")
        md5 = hashlib.md5
        sha = hashlib.sha256
        for start in range(0, n, batch):
            rows = []
            for i in range(start, min(n, start + batch)):
                u = username(i)
                a1 = ("%s:%s:%s" % (u, domain, password(i))).encode()
                rows.append((account_id, ids[i], u, domain, u,
                             md5(a1).hexdigest(), sha(a1).hexdigest(),
                             None, 1, 1, 0, 1, 0, 1, 1, now, now))
            con.executemany(
                "INSERT INTO endpoints (account_id, endpoint_id, username,"
                " domain, alias, ha1_md5, ha1_sha256, app_ref, allow_voice,"
                " allow_message, allow_video, allow_same_domain,"
                " allow_other_domains, allow_phones, allow_apps, created_ms,"
                " updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows)
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return ids


def kamailio_subscribers(db_path, domain, n, sql_dir=KAMAILIO_SQL_DIR):
    """Creates a Kamailio SQLite database with the version table and the
    auth_db subscriber table (Kamailio's own schema files) holding users
    0..n-1: ha1 = MD5(user:realm:password), realm = domain, no clear-text
    password (the module runs with calculate_ha1 off)."""
    if os.path.exists(db_path):
        os.unlink(db_path)
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        for f in ("standard-create.sql", "auth_db-create.sql"):
            with open(os.path.join(sql_dir, f)) as fh:
                con.executescript(fh.read())
        con.execute("BEGIN")
        rows = []
        for i in range(n):
            u = username(i)
            pw = password(i)
            ha1 = hashlib.md5(("%s:%s:%s" % (u, domain, pw)).encode())
            ha1b = hashlib.md5(("%s@%s:%s:%s" % (u, domain, domain,
                                                  pw)).encode())
            rows.append((u, domain, "", ha1.hexdigest(), ha1b.hexdigest()))
        con.executemany("INSERT INTO subscriber (username, domain, password,"
                        " ha1, ha1b) VALUES (?,?,?,?,?)", rows)
        con.execute("COMMIT")
    finally:
        con.close()


def sipp_users(path, domain, indexes):
    """Writes a sipp injection file (SEQUENTIAL): user;password;domain."""
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in indexes:
            f.write("%s;%s;%s;\n" % (username(i), password(i), domain))


def id_file(path, ids):
    """One endpoint id per line, for the wrk scripts."""
    with open(path, "w") as f:
        for e in ids:
            f.write(e + "\n")


def sipp_calls(path, domain, pairs):
    """Writes the caller's sipp injection file (SEQUENTIAL):
    caller;password;domain;callee, one line per (caller, callee) index
    pair."""
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for a, b in pairs:
            f.write("%s;%s;%s;%s;\n" % (username(a), password(a), domain,
                                        username(b)))
