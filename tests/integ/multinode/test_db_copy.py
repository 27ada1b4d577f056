"""sipward db copy --from sqlite:PATH --to postgresql://...: everything made
on SQLite (accounts, applications, endpoints with their HA1, live
registrations) is the same through the API of a node on PostgreSQL, auth
tokens and SIP passwords keep working, and a non-empty target is
refused."""

import json

from mnlib import BASE_ENV, Node, needs_pg, new_phone, register, rest

pytestmark = needs_pg


def snapshot(api):
    """Every endpoint and application of the account, retrieved one by one
    and listed, without the per-request api_id."""
    out = {"endpoints": {}, "apps": {}, "list_e": [], "list_a": []}
    for o in api.all_endpoints():
        out["list_e"].append(o)
        e = api.endpoint(o["endpoint_id"])
        e.pop("api_id", None)
        out["endpoints"][o["endpoint_id"]] = e
    for o in api.all_apps():
        out["list_a"].append(o)
        a = api.app(o["app_id"])
        a.pop("api_id", None)
        out["apps"][o["app_id"]] = a
    return out


def copy(src, dst):
    return rest.run_cli(["db", "copy", "--from", src, "--to", dst],
                        timeout=60)


def test_db_copy_sqlite_to_postgresql(tmp_path):
    sq = Node(tmp_path / "sqlite", "S", db=tmp_path / "sqlite" / "src.db",
              domain=rest.udomain("cp"), env=BASE_ENV)
    pgn = None
    dst = None
    try:
        sq.start(expect_account=True)
        a = sq.api()
        b = sq.new_account(domain=rest.udomain("cpb"), name="account B")
        # applications, one the account default
        app1 = a.create_app(app_name="default app",
                            answer_url="https://example.com/a1",
                            answer_method="GET",
                            hangup_url="https://example.com/h1",
                            message_method="GET",
                            default_endpoint_app=True)["app_id"]
        app2 = a.create_app(app_name="second")["app_id"]
        app3 = b.create_app(app_name="B's app")["app_id"]
        # endpoints: none / explicit / default application, odd flags and
        # alias, a changed password, one in account B
        phones = {}
        e_none = new_phone(a, sq.account["domain"])
        a.update_endpoint(e_none.id, {"application": None})
        phones["none"] = e_none
        e_app2 = a.create_endpoint(rest.uname("cp"), rest.pw(),
                                   application=app2,
                                   alias="Café ☎ d'été",
                                   allow_video=True, allow_voice=False,
                                   allow_phones=False)["endpoint_id"]
        e_def = a.create_endpoint(rest.uname("cp"))["endpoint_id"]
        moved = new_phone(a, sq.account["domain"])
        old_pw = moved.password
        moved.password = rest.pw()
        rest.expect_empty(a.update_endpoint(moved.id, {
            "password": moved.password}), 202)
        e_b = b.create_endpoint(rest.uname("cpb"), application=app3)[
            "endpoint_id"]
        assert a.endpoint(e_def)["application"]["app_id"] == app1
        # live registrations (two contacts) on the SQLite node
        ua = e_none.ua(sq, user_agent="copy-test/1")
        with ua.c:
            cs = ["<%s>" % e_none.contact(ua, t) for t in ("x", "y")]
            r = register(ua, expires=3600, contacts=cs)
            assert r.status == 200, r.raw
        before_a, before_b = snapshot(a), snapshot(b)
        assert before_a["endpoints"][e_none.id]["sip_registered"] == "true"
        sq.stop()

        dst = rest.pg_create_db()
        r = copy(sq.db_url, dst)
        assert r.returncode == 0, "db copy failed (%d): %s" % (
            r.returncode, r.stderr.decode(errors="replace"))
        stats = json.loads(r.stdout.decode().strip().splitlines()[-1])
        assert stats == {"accounts": 2, "applications": 3, "endpoints": 5,
                         "registrations": 2}, stats
        # a second copy into the now non-empty database: refused, no change
        n_before = rest.psql(dst, "SELECT count(*) FROM endpoints").strip()
        r = copy(sq.db_url, dst)
        assert r.returncode != 0, "copy into a non-empty database accepted"
        assert r.stderr.strip(), "refused without a message"
        assert rest.psql(dst, "SELECT count(*) FROM endpoints").strip() == \
            n_before == "5"
        assert rest.psql(dst, "SELECT count(*) FROM accounts").strip() == "2"

        pgn = Node(tmp_path / "pg", "P", db=dst, env=BASE_ENV)
        pgn.start(expect_account=False)  # accounts exist: prints nothing
        pgn.account = sq.account
        pa = pgn.api()
        pb = pgn.api({"auth_id": b.auth_id, "auth_token": b.token,
                      "domain": b.domain})
        after_a, after_b = snapshot(pa), snapshot(pb)
        for before, after in ((before_a, after_a), (before_b, after_b)):
            assert set(after["endpoints"]) == set(before["endpoints"])
            assert set(after["apps"]) == set(before["apps"])
            for k in before["endpoints"]:
                rest.assert_unchanged(before["endpoints"][k],
                                      after["endpoints"][k])
            for k in before["apps"]:
                rest.assert_unchanged(before["apps"][k], after["apps"][k])
            # lists: same objects in the same (creation) order
            assert [o["endpoint_id"] for o in after["list_e"]] == \
                [o["endpoint_id"] for o in before["list_e"]]
            assert after["list_e"] == before["list_e"]
            assert after["list_a"] == before["list_a"]
        # auth tokens still work; a wrong one still does not
        rest.expect_ok_json(pa.get("Endpoint/"), 200)
        rest.expect_ok_json(pb.get("Endpoint/"), 200)
        rest.expect_error(pa.clone(token=pa.token[:-2] + "zz").get(
            "Endpoint/"), 401)
        rest.expect_error(pb.clone(path_id=pa.auth_id).get("Endpoint/"), 403)
        # SIP passwords (the HA1 values) came along: MD5 and SHA-256
        for ph in (e_none, moved):
            for alg in ("MD5", "SHA-256"):
                ua = ph.ua(pgn)
                ua.alg = alg
                with ua.c:
                    r = register(ua, expires=600)
                    assert r.status == 200, "%s %s on the PG node: %r" % (
                        ph.username, alg, r.raw[:300])
        ua = moved.ua(pgn, password=old_pw)
        with ua.c:
            r = register(ua, expires=600)
            assert r.status == 401, "the password replaced before the " \
                "copy works after it: %r" % r.raw[:200]
        # new rows on PostgreSQL do not collide with the copied ones
        for _ in range(5):
            pa.create_endpoint()
            pa.create_app()
        assert pa.list_endpoints()["meta"]["total_count"] == 4 + 5
        assert pb.endpoint(e_b)["application"]["app_id"] == app3
    finally:
        for n in (sq, pgn):
            if n is not None and n.proc is not None:
                n.stop(check=False)
        if dst:
            rest.pg_drop_db(dst)


def test_db_copy_refuses_a_non_empty_target(tmp_path):
    src = tmp_path / "s.db"
    rest.cli_account_create(src, domain=rest.udomain("s"))
    dst = rest.pg_create_db()
    try:
        other = rest.cli_account_create(dst, domain=rest.udomain("t"))
        r = copy("sqlite:%s" % src, dst)
        assert r.returncode != 0, "copy into a database with an account"
        assert r.stderr.strip()
        assert rest.psql(dst, "SELECT auth_id FROM accounts").split() == \
            [other["auth_id"]]
    finally:
        rest.pg_drop_db(dst)
