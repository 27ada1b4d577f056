"""sipward db backup --db sqlite:PATH --to FILE [--force]: an online copy of
a SQLite database while `serve` writes it (SQLite's backup API over one
read snapshot), written to FILE.tmp then renamed, never over an existing
FILE without --force, the key file left out. PostgreSQL: pg_dump."""

import json
import shutil
import subprocess
import threading

import pytest

from conftest import (ON_PG, Server, clean_env, run_cli, uname, pw,
                      wait_until, BIN)

pytestmark = pytest.mark.skipif(ON_PG, reason="SQLite's online backup")


def backup(db, to, *extra, **kw):
    return run_cli(["db", "backup", "--db", "sqlite:%s" % db, "--to",
                    str(to)] + list(extra), **kw)


def sqlite_one(path, sql):
    """One value from the sqlite3 shell (the copy read as a file)."""
    r = subprocess.run(["sqlite3", "-readonly", str(path), sql],
                       capture_output=True, timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


def check_copy(path):
    """A whole, consistent, single-file SQLite database."""
    assert sqlite_one(path, "PRAGMA integrity_check") == "ok"
    assert sqlite_one(path, "PRAGMA foreign_key_check") == ""
    assert sqlite_one(path, "PRAGMA journal_mode") == "delete"
    for sfx in ("-wal", "-shm", "-journal", ".tmp", ".key"):
        assert not path.with_name(path.name + sfx).exists(), sfx


def parse_line(r):
    assert r.returncode == 0, "db backup failed (%d): %s" % (
        r.returncode, r.stderr.decode(errors="replace"))
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    out = json.loads(lines[0])
    assert out["pages"] > 0 and out["bytes"] > 0, out
    assert isinstance(out["seconds"], float) and out["seconds"] >= 0, out
    return out


def usernames(srv):
    return {e["username"] for e in srv.api().all_endpoints()}


def test_backup_while_writing(make_server, tmp_path):
    """Endpoints are created in four threads before, during and after the
    backup: a server started on the copy has every endpoint acknowledged
    (201) before the backup began, and none that was never sent."""
    srv = make_server()
    # Some bulk (24 MiB, several backup steps of 4 MiB each) so that
    # commits land between the steps.
    r = subprocess.run(
        ["sqlite3", str(srv.db), ".timeout 10000",
         "CREATE TABLE test_filler(b BLOB); WITH RECURSIVE n(i) AS "
         "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24) "
         "INSERT INTO test_filler SELECT randomblob(1048576) FROM n;"],
        capture_output=True, timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr
    acked, sent, errors = [], set(), []
    lock = threading.Lock()
    stop = threading.Event()

    def writer():
        a = srv.api()
        try:
            while not stop.is_set():
                name = uname("bk")
                with lock:
                    sent.add(name)
                resp = a.create_endpoint_raw(name, pw())
                assert resp.status_code == 201, resp.text
                with lock:
                    acked.append(name)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) >= 40, 30, "40 endpoints created")
        with lock:
            before = list(acked)
        to = tmp_path / "copy" / "backup.db"
        to.parent.mkdir()
        out = parse_line(backup(srv.db, to))
        with lock:
            during = len(acked) - len(before)
        # the writes went on after the backup too
        n = len(acked)
        wait_until(lambda: len(acked) >= n + 20, 30, "20 more endpoints")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors
    assert out["to"] == str(to)
    assert out["bytes"] == to.stat().st_size
    assert out["bytes"] > 24 * 1048576
    assert out["key_file_not_copied"] == "%s.key" % srv.db
    assert to.stat().st_mode & 0o777 == 0o600
    check_copy(to)
    assert sqlite_one(to, "SELECT count(*) FROM test_filler") == "24"

    # The restore: the copy and, from its own backup, the key file.
    shutil.copy(str(srv.db) + ".key", str(to) + ".key")
    copy = Server(tmp_path / "restored", db=to)
    copy.account = srv.account  # its token works on the copy
    try:
        copy.start(expect_account=False)
        got = usernames(copy)
        missing = set(before) - got
        assert not missing, "%d acknowledged endpoints missing (of %d; " \
            "%d created during the backup)" % (len(missing), len(before),
                                               during)
        assert got <= sent, got - sent
        assert "server_key_mismatch" not in copy.log_text()
    finally:
        copy.stop()
    assert usernames(srv) >= got


def test_refuses_to_overwrite(make_server, tmp_path):
    srv = make_server()
    to = tmp_path / "existing.db"
    to.write_bytes(b"precious")
    r = backup(srv.db, to)
    assert r.returncode == 1, r
    err = r.stderr.decode()
    assert len(err.splitlines()) == 1, err
    assert "exists" in err and "--force" in err, err
    assert r.stdout == b""
    assert to.read_bytes() == b"precious"
    assert not (tmp_path / "existing.db.tmp").exists()


def test_force_replaces(make_server, tmp_path):
    srv = make_server()
    a = srv.api()
    first = a.create_endpoint()["username"]
    to = tmp_path / "b.db"
    parse_line(backup(srv.db, to))
    second = a.create_endpoint()["username"]
    assert backup(srv.db, to).returncode == 1
    parse_line(backup(srv.db, to, "--force"))
    check_copy(to)
    names = sqlite_one(to, "SELECT username FROM endpoints").split()
    assert first in names and second in names
    # --force also clears a FILE.tmp that a killed backup left
    tmp = tmp_path / "b.db.tmp"
    tmp.write_bytes(b"half a copy")
    r = backup(srv.db, to)
    assert r.returncode == 1 and b"exists" in r.stderr
    to.unlink()
    r = backup(srv.db, to)
    assert r.returncode == 1, r
    assert b"b.db.tmp" in r.stderr and b"--force" in r.stderr, r.stderr
    assert not to.exists() and tmp.read_bytes() == b"half a copy"
    parse_line(backup(srv.db, to, "--force"))
    check_copy(to)


def test_force_never_replaces_the_database(make_server):
    srv = make_server()
    a = srv.api()
    a.create_endpoint()
    before = usernames(srv)
    key = open(str(srv.db) + ".key").read()
    for target in (srv.db, str(srv.db) + ".key", str(srv.db) + "-wal"):
        r = backup(srv.db, target, "--force")
        assert r.returncode == 1, (target, r)
        assert b"a file of the database itself" in r.stderr, r.stderr
    assert usernames(srv) == before
    assert open(str(srv.db) + ".key").read() == key


@pytest.mark.parametrize("args", [
    [], ["--db", "sqlite:x.db"], ["--to", "x.bak"],
    ["--db", "sqlite:x.db", "--to"], ["--db", "sqlite:x.db", "--to",
                                      "x.bak", "--force=yes"],
    ["--db", "sqlite:x.db", "--to", "x.bak", "--from", "sqlite:y"],
    ["--db", "mysql://x", "--to", "x.bak"],
    ["--db", "sqlite:x.db", "--to", "postgresql://h/db"],
    ["--db", "sqlite:x.db", "--to", "x.bak", "extra"],
], ids=" ".join)
def test_bad_arguments(args, tmp_path):
    r = run_cli(["db", "backup"] + args, cwd=str(tmp_path), timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert r.stdout == b""
    assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_postgresql_points_at_pg_dump(tmp_path):
    r = run_cli(["db", "backup", "--db", "postgresql://sipward@127.0.0.1:1/x",
                 "--to", str(tmp_path / "x.bak")], timeout=10)
    assert r.returncode == 2, r
    assert b"pg_dump" in r.stderr, r.stderr
    assert not list(tmp_path.iterdir())


def test_missing_source(tmp_path):
    to = tmp_path / "x.bak"
    r = backup(tmp_path / "nothing.db", to)
    assert r.returncode == 1, r
    err = r.stderr.decode()
    assert "no database at" in err and "nothing.db" in err, err
    assert r.stdout == b""
    # nothing made: neither the copy nor a database where none was
    assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_not_a_sipward_database(tmp_path):
    src = tmp_path / "other.db"
    subprocess.run(["sqlite3", str(src), "CREATE TABLE t(x)"], check=True,
                   env=clean_env())
    r = backup(src, tmp_path / "x.bak")
    assert r.returncode == 1 and b"not a sipward database" in r.stderr, r
    assert not (tmp_path / "x.bak").exists()
    assert not (tmp_path / "x.bak.tmp").exists()


def test_key_file_not_copied(make_server, tmp_path):
    srv = make_server()
    key = srv.db.with_name(srv.db.name + ".key")
    assert key.exists()
    to = tmp_path / "k.db"
    r = backup(srv.db, to)
    out = parse_line(r)
    assert out["key_file_not_copied"] == str(key)
    err = r.stderr.decode()
    assert str(key) in err and "secret" in err, err
    assert not to.with_name("k.db.key").exists()
    secret = key.read_text().strip()
    assert secret.encode() not in to.read_bytes()
    # without a key file beside the database, the line does not name one
    to.unlink()
    key.rename(tmp_path / "moved.key")
    try:
        out = parse_line(backup(srv.db, to))
        assert "key_file_not_copied" not in out
    finally:
        (tmp_path / "moved.key").rename(key)


def test_waits_for_a_locked_database(make_server, tmp_path):
    """A locked source is waited for (event=backup_busy), not failed at
    once. A served database is in WAL mode, where readers never wait, so
    the lock is taken on a copy (a rollback-journal database)."""
    srv = make_server()
    first = tmp_path / "first.db"
    parse_line(backup(srv.db, first))
    locker = subprocess.Popen(["sqlite3", str(first)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=clean_env())
    locker.stdin.write(b"BEGIN EXCLUSIVE;\nSELECT 'locked';\n")
    locker.stdin.flush()
    assert locker.stdout.readline().strip() == b"locked"
    err_path = tmp_path / "backup.err"
    with open(err_path, "wb") as err:
        p = subprocess.Popen([BIN, "db", "backup", "--db", "sqlite:%s" % first,
                              "--to", str(tmp_path / "second.db")],
                             stdout=subprocess.PIPE, stderr=err,
                             env=clean_env())
    try:
        wait_until(lambda: b"event=backup_busy" in err_path.read_bytes(), 10,
                   "the backup_busy line")
        assert p.poll() is None
        assert not (tmp_path / "second.db").exists()
    finally:
        locker.stdin.write(b"ROLLBACK;\n")
        locker.stdin.close()
        locker.wait(30)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0, err_path.read_text()
    assert json.loads(out)["pages"] > 0
    check_copy(tmp_path / "second.db")


def test_path_not_utf8(make_server, tmp_path):
    """A FILE whose name is not UTF-8 is written, and the line stays
    JSON."""
    import os
    srv = make_server()
    to = os.fsdecode(os.fsencode(str(tmp_path)) + b"/b\xff.db")
    out = parse_line(backup(srv.db, to))
    assert out["to"] == "(a path that is not UTF-8)", out
    assert os.path.exists(to)
