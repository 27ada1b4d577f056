"""/readyz follows the store (issue 13): a node whose PostgreSQL server is
stopped answers 503 with the reason, and ready again once the server is
back, without a restart (a private cluster, so that other suites running
in parallel are not disturbed)."""

import requests

from mnlib import (needs_pg, rest, wait_until, mn_cluster,  # noqa: F401
                   mn_private_pg)

pytestmark = needs_pg


def readyz(node):
    return requests.get("http://127.0.0.1:%d/readyz" % node.admin_port,
                        timeout=15)


def test_readyz_follows_postgresql(mn_private_pg, mn_cluster):
    pg = mn_private_pg
    c = mn_cluster(1, db_url=rest.pg_create_db(base=pg.url))
    node = c.nodes[0]
    r = readyz(node)
    assert r.status_code == 200 and r.json() == {"status": "ready"}, r.text
    pg.halt()
    seen = {}

    def down():
        seen["r"] = readyz(node)
        return seen["r"].status_code == 503
    wait_until(down, 30, "readyz 503 with PostgreSQL stopped (last: %s)" %
               getattr(seen.get("r"), "text", None))
    body = seen["r"].json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("the store did not answer"), body
    # /healthz still answers: the process serves
    h = requests.get("http://127.0.0.1:%d/healthz" % node.admin_port,
                     timeout=15)
    assert h.status_code == 200
    pg.resume()
    wait_until(lambda: readyz(node).status_code == 200, 30,
               "readyz 200 once PostgreSQL is back")
