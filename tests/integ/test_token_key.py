"""The server key and account tokens sealed at rest (operations.md, "The
server key"): the key file made 0600 on first start beside a SQLite
database, refused when others may read it, malformed or not a file; the
secret_key option instead of the file; no key at all on PostgreSQL by
default; the token never in clear at rest but sealed (AES-256-GCM, opened
here with OpenSSL's libcrypto through ctypes, independently of sipward)
under the key with the auth_id bound to it; `sipward account rotate-token`;
and accounts whose token predates schema 5."""

import ctypes
import ctypes.util
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import (BIN, HTTP_TIMEOUT, ON_PG, Server, clean_env,
                      cli_account_create, db_url_of, expect_ok_json,
                      parse_account_line, psql, run_cli, skip_on_pg,
                      udomain)

KEY_HEX = "00112233445566778899aabbccddeeff" * 2
OTHER_KEY_HEX = "ffeeddccbbaa99887766554433221100" * 2
AAD_PREFIX = b"sipward-account-token-v1:"
SEALED_RE = re.compile(r"^v1:[0-9a-f]{136}$")  # 12 + 40 + 16 bytes


# --------------------------------------------------------------------------
# AES-256-GCM, straight from libcrypto (no Python package needed)

_lib = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
_lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
_lib.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
_lib.EVP_aes_256_gcm.restype = ctypes.c_void_p
_lib.EVP_DecryptInit_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                    ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.c_char_p]
_lib.EVP_CIPHER_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                     ctypes.c_int, ctypes.c_void_p]
_lib.EVP_DecryptUpdate.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                   ctypes.POINTER(ctypes.c_int),
                                   ctypes.c_char_p, ctypes.c_int]
_lib.EVP_DecryptFinal_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.POINTER(ctypes.c_int)]
EVP_CTRL_GCM_SET_IVLEN = 0x9
EVP_CTRL_GCM_SET_TAG = 0x11


def gcm_open(key, aad, box):
    """Opens nonce(12) | ciphertext | tag(16); None when it does not."""
    nonce, ct, tag = box[:12], box[12:-16], box[-16:]
    ctx = _lib.EVP_CIPHER_CTX_new()
    try:
        n = ctypes.c_int(0)
        out = ctypes.create_string_buffer(len(ct) + 16)
        ok = _lib.EVP_DecryptInit_ex(ctx, _lib.EVP_aes_256_gcm(), None,
                                     None, None) == 1
        ok = ok and _lib.EVP_CIPHER_CTX_ctrl(
            ctx, EVP_CTRL_GCM_SET_IVLEN, 12, None) == 1
        ok = ok and _lib.EVP_DecryptInit_ex(ctx, None, None, key,
                                            nonce) == 1
        ok = ok and _lib.EVP_DecryptUpdate(ctx, None, ctypes.byref(n), aad,
                                           len(aad)) == 1
        ok = ok and _lib.EVP_DecryptUpdate(ctx, out, ctypes.byref(n), ct,
                                           len(ct)) == 1
        got = n.value
        tagbuf = ctypes.create_string_buffer(tag, 16)
        ok = ok and _lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
                                             tagbuf) == 1
        ok = ok and _lib.EVP_DecryptFinal_ex(ctx, ctypes.byref(out, got),
                                             ctypes.byref(n)) == 1
        return out.raw[:got + n.value] if ok else None
    finally:
        _lib.EVP_CIPHER_CTX_free(ctx)


def unseal(key_hex, auth_id, sealed):
    assert SEALED_RE.match(sealed), "not a v1 sealed token: %r" % sealed
    box = bytes.fromhex(sealed[3:])
    got = gcm_open(bytes.fromhex(key_hex), AAD_PREFIX + auth_id.encode(),
                   box)
    return got.decode() if got is not None else None


# --------------------------------------------------------------------------
# helpers

def sql(srv_or_url, query):
    """One query on the store (sqlite3 shell or psql); stdout stripped."""
    url = srv_or_url if isinstance(srv_or_url, str) else srv_or_url.db_url
    if url.startswith("sqlite:"):
        r = subprocess.run(["sqlite3", url[len("sqlite:"):], query],
                           capture_output=True, timeout=30, env=clean_env())
        assert r.returncode == 0, r.stderr
        return r.stdout.decode().strip()
    return psql(url, query).strip()


def sealed_of(db, auth_id):
    return sql(db_url_of(db), "SELECT token_enc FROM accounts WHERE "
               "auth_id = '%s'" % auth_id)


def key_env(key_hex=KEY_HEX):
    return {"SIPWARD_SECRET_KEY": key_hex}


def backend_env():
    """On PostgreSQL there is no default key: give one."""
    return key_env() if ON_PG else {}


def key_file_of(srv):
    return Path(str(srv.db) + ".key")


def status(srv, acct_or_id, token):
    auth_id = acct_or_id if isinstance(acct_or_id, str) else \
        acct_or_id["auth_id"]
    r = requests.get("%s/api/v1/Account/%s/Endpoint/" % (srv.base, auth_id),
                     headers={"X-Auth-ID": auth_id, "X-Auth-Token": token},
                     timeout=HTTP_TIMEOUT)
    return r.status_code


def rotate(db, auth_id, env=None, extra=()):
    return run_cli(["account", "rotate-token", auth_id, "--db",
                    db_url_of(db)] + list(extra), env=env)


def rotate_ok(db, auth_id, env=None):
    r = rotate(db, auth_id, env=env)
    assert r.returncode == 0, "rotate-token failed (%d): %s" % (
        r.returncode, r.stderr.decode(errors="replace"))
    out = r.stdout.decode()
    assert out.count("\n") == 1, repr(out)
    obj = parse_account_line(out, "rotate-token")
    assert obj["auth_id"] == auth_id
    return obj, r.stderr.decode(errors="replace")


def serve_once(args, env=None, cwd=None, timeout=15):
    """Runs `sipward serve ARGS` expecting it to exit (a refused start)."""
    p = subprocess.run([BIN, "serve", "--http", "127.0.0.1:0", "--sip",
                        "127.0.0.1:0"] + list(args), capture_output=True,
                       env=clean_env(env), cwd=cwd, timeout=timeout)
    return p


# --------------------------------------------------------------------------
# the key file

@skip_on_pg
def test_key_file_created_0600_on_first_start(make_server):
    srv = make_server()
    kf = key_file_of(srv)
    st = kf.lstat()
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    text = kf.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", text), "key file: %r" % len(text)
    log = srv.log_text()
    assert re.search(r"event=server_key source=key_file path=\"[^\"]*"
                     r"sipward\.db\.key\" created=yes", log), log
    assert text.strip() not in log, "the key was logged"
    assert text.strip() not in srv.last_stdout
    # nothing else (no temporary file) is left beside the database
    names = sorted(p.name for p in kf.parent.iterdir()
                   if p.name.startswith("sipward.db"))
    assert all(n in ("sipward.db", "sipward.db.key", "sipward.db-wal",
                     "sipward.db-shm") for n in names), names
    # the first account's token is sealed under that key
    acct = srv.account
    assert unseal(text.strip(), acct["auth_id"],
                  sealed_of(srv.db, acct["auth_id"])) == acct["auth_token"]
    # the next start reads the same file and makes nothing
    srv.restart()
    assert kf.read_text() == text
    assert "created=no" in srv.log_path.read_text()
    assert status(srv, acct, acct["auth_token"]) == 200
    # account create (another process) uses the same key
    b = cli_account_create(srv.db, domain=udomain())
    assert unseal(text.strip(), b["auth_id"],
                  sealed_of(srv.db, b["auth_id"])) == b["auth_token"]


@skip_on_pg
def test_account_create_makes_the_key_file(tmp_path):
    """The CLI alone, on a new database: the same rule as serve."""
    db = tmp_path / "cli.db"
    a = cli_account_create(db, domain=udomain())
    kf = Path(str(db) + ".key")
    assert stat.S_IMODE(kf.stat().st_mode) == 0o600
    assert unseal(kf.read_text().strip(), a["auth_id"],
                  sealed_of(db, a["auth_id"])) == a["auth_token"]


def _bad_key_file(kind, path):
    if kind == "group-readable":
        path.write_text(KEY_HEX + "\n")
        path.chmod(0o640)
        return "open to group or others (mode 0640)"
    if kind == "world-readable":
        path.write_text(KEY_HEX + "\n")
        path.chmod(0o604)
        return "open to group or others (mode 0604)"
    if kind == "malformed":
        path.write_text("not a key\n")
        path.chmod(0o600)
        return "does not hold a key"
    if kind == "short":
        path.write_text(KEY_HEX[:-2] + "\n")
        path.chmod(0o600)
        return "does not hold a key"
    if kind == "directory":
        path.mkdir(mode=0o700)
        return "not a regular file"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["group-readable", "world-readable",
                                  "malformed", "short", "directory"])
def test_bad_key_file_refused(tmp_path, db_url, kind):
    """serve, account create and rotate-token refuse it: one clear line,
    exit status 1, the store untouched, the key never printed."""
    if ON_PG:
        kf = tmp_path / "pg.key"
        db = db_url()
        env = {"SIPWARD_KEY_FILE": str(kf)}
    else:
        db = "sqlite:%s" % (tmp_path / "sipward.db")
        kf = tmp_path / "sipward.db.key"
        env = {}
    why = _bad_key_file(kind, kf)
    for args in (["serve", "--db", db, "--http", "127.0.0.1:0", "--sip",
                  "127.0.0.1:0"],
                 ["account", "create", "--db", db],
                 ["account", "rotate-token", "MA_AAAAAAAA", "--db", db]):
        r = run_cli(args, env=env, timeout=15)
        err = r.stderr.decode(errors="replace")
        assert r.returncode == 1, (args, r.returncode, err)
        lines = [l for l in err.splitlines() if l.strip()
                 and "level=" not in l]
        assert len(lines) == 1, err
        assert lines[0].startswith("sipward: "), err
        assert str(kf) in lines[0] and why in lines[0], err
        assert KEY_HEX not in err
        assert r.stdout.strip() == b"", "printed something: %r" % r.stdout
    if not ON_PG:
        # refused before the database was opened: nothing was created
        assert not (tmp_path / "sipward.db").exists()
    else:
        n = sql(db, "SELECT count(*) FROM pg_tables WHERE "
                "tablename = 'accounts'")
        assert n == "0", "the store was created despite the refused key"
    # fixed, it starts
    if kf.is_dir():
        kf.rmdir()
    else:
        kf.unlink()
    kf.write_text(KEY_HEX + "\n")
    kf.chmod(0o600)
    a = cli_account_create(db, domain=udomain(), env=env)
    assert unseal(KEY_HEX, a["auth_id"], sealed_of(db, a["auth_id"])) == \
        a["auth_token"]


def test_key_file_option(tmp_path, db_url):
    """key_file names the file (on either backend); made when missing."""
    kf = tmp_path / "keys" / "sipward.key"
    kf.parent.mkdir()
    cfg = tmp_path / "sipward.conf"
    cfg.write_text("key_file = %s\n" % kf)
    srv = Server(tmp_path / "kf", domain=udomain(), config=cfg,
                 db=db_url())
    try:
        srv.start(expect_account=True)
        assert stat.S_IMODE(kf.stat().st_mode) == 0o600
        if not ON_PG:
            assert not key_file_of(srv).exists(), "auto file made too"
        key = kf.read_text().strip()
        acct = srv.account
        assert unseal(key, acct["auth_id"],
                      sealed_of(srv.db, acct["auth_id"])) == \
            acct["auth_token"]
    finally:
        srv.stop()
        srv.drop_db()


# --------------------------------------------------------------------------
# secret_key

def test_secret_key_option_used_instead_of_the_file(tmp_path, db_url):
    srv = Server(tmp_path / "sk", domain=udomain(), env=key_env(),
                 db=db_url())
    try:
        srv.start(expect_account=True)
        if not ON_PG:
            assert not key_file_of(srv).exists(), \
                "a key file was made although secret_key is set"
        acct = srv.account
        sealed = sealed_of(srv.db, acct["auth_id"])
        assert unseal(KEY_HEX, acct["auth_id"], sealed) == \
            acct["auth_token"]
        # another key does not open it
        assert unseal(OTHER_KEY_HEX, acct["auth_id"], sealed) is None
        b = cli_account_create(srv.db, domain=udomain(), env=key_env())
        assert unseal(KEY_HEX, b["auth_id"],
                      sealed_of(srv.db, b["auth_id"])) == b["auth_token"]
        assert status(srv, b, b["auth_token"]) == 200
        log = srv.log_text()
        assert "event=server_key source=secret_key" in log, log
        assert KEY_HEX not in log and KEY_HEX.upper() not in log
        # secret_key wins over a key_file given too
        srv.stop()
        srv.env["SIPWARD_KEY_FILE"] = str(tmp_path / "unused.key")
        srv.start(expect_account=False)
        assert not (tmp_path / "unused.key").exists()
    finally:
        srv.stop()
        srv.drop_db()


@pytest.mark.parametrize("bad", ["0011", KEY_HEX + "00", "g" * 64,
                                 KEY_HEX[:-1] + " "], ids=repr)
def test_bad_secret_key_refused(tmp_path, bad):
    r = run_cli(["serve", "--db", "sqlite:%s" % (tmp_path / "x.db"),
                 "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0"],
                env={"SIPWARD_SECRET_KEY": bad}, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    err = r.stderr.decode(errors="replace").strip()
    assert len(err.splitlines()) == 1, err
    assert "secret_key" in err
    assert bad.strip() not in err, err
    assert not (tmp_path / "x.db").exists()


def test_key_mismatch_warned_at_start(tmp_path, db_url):
    """A node started with another key (not the other nodes' key) says so
    at start; logins still work (they check the hash)."""
    srv = Server(tmp_path / "mm", domain=udomain(), env=key_env(),
                 db=db_url())
    try:
        srv.start(expect_account=True)
        assert "server_key_mismatch" not in srv.log_text()
        srv.stop()
        srv.env = key_env(OTHER_KEY_HEX)
        srv.start(expect_account=False)
        log = srv.log_path.read_text()
        assert "level=warn event=server_key_mismatch" in log, log
        acct = srv.account
        assert status(srv, acct, acct["auth_token"]) == 200
        # rotating under the new key seals under it: the warning goes
        new, _ = rotate_ok(srv.db, acct["auth_id"],
                           env=key_env(OTHER_KEY_HEX))
        assert unseal(OTHER_KEY_HEX, acct["auth_id"],
                      sealed_of(srv.db, acct["auth_id"])) == \
            new["auth_token"]
        srv.restart()
        assert "server_key_mismatch" not in srv.log_path.read_text()
    finally:
        srv.stop()
        srv.drop_db()


@pytest.mark.skipif(not ON_PG, reason="PostgreSQL: no default key file")
def test_pg_without_key_warns_and_stores_hash_only(make_server):
    srv = make_server()
    log = srv.log_text()
    assert "level=warn event=server_key_missing" in log, log
    acct = srv.account
    assert sealed_of(srv.db, acct["auth_id"]) == ""
    assert status(srv, acct, acct["auth_token"]) == 200
    # no key file appears anywhere in the working directory
    assert not list(Path(srv.dir).glob("*.key"))
    # rotate-token without a key still rotates the login token
    new, err = rotate_ok(srv.db, acct["auth_id"])
    assert "server_key_missing" in err
    assert "account_token_rotated auth_id=%s sealed=no" % acct["auth_id"] \
        in err
    assert sealed_of(srv.db, acct["auth_id"]) == ""
    assert status(srv, acct, acct["auth_token"]) == 401
    assert status(srv, acct, new["auth_token"]) == 200


# --------------------------------------------------------------------------
# tokens at rest

def test_token_never_in_clear_at_rest(make_server):
    srv = make_server(env=backend_env())
    acct = srv.account
    b = cli_account_create(srv.db, domain=udomain(), env=backend_env())
    new, _ = rotate_ok(srv.db, b["auth_id"], env=backend_env())
    assert status(srv, b, new["auth_token"]) == 200
    tokens = [acct["auth_token"], b["auth_token"], new["auth_token"]]
    srv.stop()
    stored = srv.at_rest()
    assert stored and any(acct["auth_id"].encode() in data
                          for _, data in stored), "scan sees no rows"
    for name, data in stored:
        for t in tokens:
            for form in (t.encode(), t.encode().hex().encode(),
                         t.encode("utf-16-le")):
                assert form not in data, "a token in clear in %s" % name
    # and what is there is sealed
    for a in (acct, new):
        assert SEALED_RE.match(sealed_of(srv.db, a["auth_id"]))


# --------------------------------------------------------------------------
# rotate-token

def test_rotate_token(make_server):
    srv = make_server(env=backend_env())
    b = cli_account_create(srv.db, domain=udomain(), env=backend_env())
    assert status(srv, b, b["auth_token"]) == 200
    old_sealed = sealed_of(srv.db, b["auth_id"])
    new, err = rotate_ok(srv.db, b["auth_id"], env=backend_env())
    assert new["domain"] == b["domain"]
    assert new["auth_token"] != b["auth_token"]
    assert len(new["auth_token"]) >= 32
    # the old token fails at once, the new one works
    assert status(srv, b, b["auth_token"]) == 401
    assert status(srv, b, new["auth_token"]) == 200
    # the log says so, without either token
    assert re.search(r"event=account_token_rotated auth_id=%s sealed=yes"
                     % b["auth_id"], err), err
    for t in (b["auth_token"], new["auth_token"]):
        assert t not in err
        assert t not in srv.log_text()
    # sealed anew, under the server's key
    sealed = sealed_of(srv.db, b["auth_id"])
    assert sealed != old_sealed
    key = KEY_HEX if ON_PG else key_file_of(srv).read_text().strip()
    assert unseal(key, b["auth_id"], sealed) == new["auth_token"]
    # the first account is untouched
    acct = srv.account
    assert status(srv, acct, acct["auth_token"]) == 200
    # rotating again: the previous one fails too
    newer, _ = rotate_ok(srv.db, b["auth_id"], env=backend_env())
    assert status(srv, b, new["auth_token"]) == 401
    assert status(srv, b, newer["auth_token"]) == 200


def test_rotate_token_unknown_and_bad_usage(make_server):
    srv = make_server(env=backend_env())
    for auth_id in ("MA_ZZZZZZZZ", "nonsense"):
        r = rotate(srv.db, auth_id, env=backend_env())
        err = r.stderr.decode(errors="replace")
        assert r.returncode == 1, (r.returncode, err)
        assert "no account has auth_id \"%s\"" % auth_id in err, err
        assert r.stdout.strip() == b""
    # no AUTH_ID, two of them, an unknown flag: usage errors
    for args in (["account", "rotate-token", "--db", srv.db_url],
                 ["account", "rotate-token", "MA_AAAAAAAA", "MA_BBBBBBBB",
                  "--db", srv.db_url],
                 ["account", "rotate-token", "MA_AAAAAAAA", "--name", "x",
                  "--db", srv.db_url]):
        r = run_cli(args, env=backend_env())
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert len(r.stderr.decode().strip().splitlines()) == 1, r.stderr
        assert r.stdout.strip() == b""
    # the flag may come first, and --flag=VALUE works
    acct = srv.account
    r = run_cli(["account", "rotate-token", "--db=%s" % srv.db_url,
                 acct["auth_id"]], env=backend_env())
    assert r.returncode == 0, r.stderr
    new = parse_account_line(r.stdout.decode(), "rotate-token")
    assert status(srv, acct, new["auth_token"]) == 200


def test_rotate_token_on_every_node_at_once(make_server, tmp_path):
    """Two nodes on one store: a rotation through either (here the CLI)
    makes the old token fail on both at once; nothing is cached."""
    a = make_server("n1", env=backend_env())
    b = Server(tmp_path / "n2", db=a.db_url, env=backend_env())
    try:
        b.start(expect_account=False)
        acct = a.account
        # warm whatever a node might cache
        for _ in range(3):
            assert status(a, acct, acct["auth_token"]) == 200
            assert status(b, acct, acct["auth_token"]) == 200
        new, _ = rotate_ok(a.db, acct["auth_id"], env=backend_env())
        for node in (a, b):
            assert status(node, acct, acct["auth_token"]) == 401
            assert status(node, acct, new["auth_token"]) == 200
    finally:
        b.stop()


def test_account_before_schema_5_has_no_signing_token(make_server):
    """An account whose token predates schema 5 has no ciphertext (cleared
    here, as the migration leaves it): logins still work by the hash, there
    is nothing to sign with, and rotate-token seals a new token."""
    srv = make_server(env=backend_env())
    b = cli_account_create(srv.db, domain=udomain(), env=backend_env())
    sql(srv, "UPDATE accounts SET token_enc = '' WHERE auth_id = '%s'"
        % b["auth_id"])
    assert sealed_of(srv.db, b["auth_id"]) == ""
    assert status(srv, b, b["auth_token"]) == 200
    # the start-up key check ignores accounts with nothing sealed
    srv.restart()
    assert "server_key_mismatch" not in srv.log_path.read_text()
    new, err = rotate_ok(srv.db, b["auth_id"], env=backend_env())
    assert "sealed=yes" in err
    key = KEY_HEX if ON_PG else key_file_of(srv).read_text().strip()
    assert unseal(key, b["auth_id"], sealed_of(srv.db, b["auth_id"])) == \
        new["auth_token"]
    assert status(srv, b, b["auth_token"]) == 401
    assert status(srv, b, new["auth_token"]) == 200


def test_sealed_token_bound_to_its_account(make_server):
    """The auth_id is authenticated with the ciphertext: one account's
    sealed token does not open as another's."""
    srv = make_server(env=backend_env())
    acct = srv.account
    b = cli_account_create(srv.db, domain=udomain(), env=backend_env())
    key = KEY_HEX if ON_PG else key_file_of(srv).read_text().strip()
    sealed_a = sealed_of(srv.db, acct["auth_id"])
    assert unseal(key, acct["auth_id"], sealed_a) == acct["auth_token"]
    assert unseal(key, b["auth_id"], sealed_a) is None


@pytest.mark.skipif(not ON_PG, reason="copies a SQLite database into "
                    "PostgreSQL")
def test_db_copy_keeps_sealed_tokens(tmp_path, db_url):
    """db copy takes the ciphertexts along (bound to the auth_id, which the
    copy keeps): with the SQLite database's key file as key_file, the
    PostgreSQL nodes sign with the same tokens."""
    src = tmp_path / "src.db"
    a = cli_account_create(src, domain=udomain())
    kf = Path(str(src) + ".key")
    key = kf.read_text().strip()
    dst = db_url()
    r = run_cli(["db", "copy", "--from", "sqlite:%s" % src, "--to", dst])
    assert r.returncode == 0, r.stderr
    sealed = sealed_of(dst, a["auth_id"])
    assert sealed == sealed_of(src, a["auth_id"])
    assert unseal(key, a["auth_id"], sealed) == a["auth_token"]
    srv = Server(tmp_path / "copied", db=dst,
                 env={"SIPWARD_KEY_FILE": str(kf)})
    try:
        srv.start(expect_account=False)
        log = srv.log_path.read_text()
        assert "server_key_mismatch" not in log, log
        assert "server_key_missing" not in log, log
        assert status(srv, a, a["auth_token"]) == 200
    finally:
        srv.stop()
