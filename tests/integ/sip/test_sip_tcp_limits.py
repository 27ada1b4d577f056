"""SIP over TCP: per-address limit, and a full pool makes room by closing
the unregistered connection idle longest instead of refusing the newcomer
(issue 8). Connections come from several 127.x addresses."""

from sip_conftest import wait_until
from test_sip_transport import options_bytes


def answers(c):
    r = c.request(options_bytes(c))
    assert r.status == 200, r.raw
    return True


def test_full_pool_evicts_idle_unregistered(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_TCP_MAX": 6,
                               "SIPWARD_SIP_TCP_PER_ADDR": 3})
    ep = srv.endpoint()
    phone = ep.ua("tcp")
    conns = []
    try:
        phone.register_ok()
        # 3 addresses x 3 connections: 9 newcomers for 5 free slots.
        for host in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            for _ in range(3):
                c = srv.conn("tcp", source=host)
                conns.append(c)
                assert answers(c)  # every newcomer gets in
        wait_until(lambda: len(srv.log_lines(r"event=sip_tcp_evicted")) >= 4,
                   10, "4 evictions")
        # The evicted ones are closed; the rest still answer.
        closed = [c for c in conns if c.at_eof(0.2)]
        assert len(closed) == 4, len(closed)
        for c in conns:
            if c not in closed:
                assert answers(c)
        # The registered phone was never evicted.
        assert answers(phone.c)
        assert not srv.log_lines(r"event=sip_tcp_refused")
    finally:
        phone.c.close()
        for c in conns:
            c.close()


def test_per_address_limit(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_TCP_MAX": 64,
                               "SIPWARD_SIP_TCP_PER_ADDR": 2})
    conns = [srv.conn("tcp", source="127.0.0.5") for _ in range(2)]
    try:
        for c in conns:
            assert answers(c)
        extra = srv.conn("tcp", source="127.0.0.5")
        conns.append(extra)
        assert extra.at_eof(3.0), "a third connection from one address"
        srv.wait_log(r"event=sip_tcp_refused src=127\.0\.0\.5 "
                     r"reason=per_address_limit")
        # Another address is not affected; a freed slot can be reused.
        other = srv.conn("tcp", source="127.0.0.6")
        conns.append(other)
        assert answers(other)
        conns[0].close()

        def reconnect():
            c = srv.conn("tcp", source="127.0.0.5", timeout=1.0)
            conns.append(c)
            return answers(c)
        wait_until(reconnect, 10, "a connection again once one closed")
    finally:
        for c in conns:
            c.close()
