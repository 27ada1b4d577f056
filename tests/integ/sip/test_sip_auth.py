"""REGISTER digest authentication: challenges, MD5 and SHA-256 over UDP and
TCP on IPv4 and IPv6, failures and their log lines, stale and forged
nonces, nonce-count replay."""

import hashlib
import re
import time

import pytest

from sip_conftest import TS_RE, forge_nonce, pw, uname, wait_until
from sipclient import UA, authorization, new_branch

def U(name):
    """The user= value of a log line: the name, quoted or not."""
    return '"?%s"?' % re.escape(name)


NONCE_RE = re.compile(r"^[0-9a-f]{16}\.[0-9a-f]{16}\.[0-9a-f]{32}$")


def check_challenge(resp, realm, algs, stale=False):
    assert resp.status == 401, resp.raw
    chs = resp.challenges()
    assert [c.get("algorithm") for c in chs] == list(algs), resp.raw
    nonces = set()
    for c in chs:
        assert c["_scheme"] == "Digest", c
        assert c["realm"] == realm and c["_quoted_realm"], c
        assert c["qop"] == "auth" and c["_quoted_qop"], c
        assert NONCE_RE.match(c["nonce"]), c
        nonces.add(c["nonce"])
        if stale:
            assert c.get("stale", "").lower() == "true", c
        else:
            assert "stale" not in c, c
    issued = int(chs[0]["nonce"][:16], 16) / 1000.0  # milliseconds
    assert abs(issued - time.time()) < 30, "nonce time %d" % issued
    return chs


def shape(resp):
    """Header names and WWW-Authenticate values with the variable parts
    (nonce, tags, branch) blanked: what a prober could compare."""
    out = []
    for n, v in resp.headers:
        if n.lower() == "www-authenticate":
            v = re.sub(r'nonce="[^"]*"', 'nonce="N"', v)
        elif n.lower() in ("via", "from", "to", "call-id"):
            v = "*"
        out.append((n, v))
    return resp.status, resp.reason, out


# --------------------------------------------------------------------------
# challenges

def test_challenge_md5_then_sha256(sip_server, sip_ep):
    ua = sip_ep.ua("udp")
    with ua.c:
        r = ua.c.request(ua.register_bytes())
        check_challenge(r, sip_ep.domain, ["MD5", "SHA-256"])
        assert r.to_tag(), "a 401 carries a To tag"
        assert r.get("Call-ID") == ua.call_id
        assert r.get("CSeq") == "1 REGISTER"


def test_challenge_order_configurable(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_DIGEST_ALGORITHMS":
                               "SHA-256,MD5"})
    ep = srv.endpoint()
    ua = ep.ua("udp")
    with ua.c:
        r = ua.c.request(ua.register_bytes())
        check_challenge(r, ep.domain, ["SHA-256", "MD5"])
        # and both still work
        for alg in ("SHA-256", "MD5"):
            ua.alg = alg
            ua.register_ok(fresh_nonce=True)


def test_challenge_sha256_only(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_DIGEST_ALGORITHMS": "SHA-256"})
    ep = srv.endpoint()
    ua = ep.ua("udp", alg="SHA-256")
    with ua.c:
        r = ua.c.request(ua.register_bytes())
        check_challenge(r, ep.domain, ["SHA-256"])
        ua.take_challenge(r)
        # an MD5 answer to a SHA-256-only challenge is refused
        auth = ua.auth_header(alg="MD5")
        r = ua.c.request(ua.register_bytes(auth=auth))
        assert r.status == 401, r.raw
        ua.register_ok(fresh_nonce=True)


# --------------------------------------------------------------------------
# successful registration, own client

def check_registered(ep, ua, transport, received_host):
    obj = ep.get()
    assert obj["sip_registered"] == "true", obj
    assert obj["sip_contact"] == ua.contact_uri(), obj
    assert TS_RE.match(obj["sip_expires"]) and obj["sip_expires"].endswith(
        "Z"), obj
    assert obj["sip_user_agent"] == ua.user_agent, obj
    regs = obj["sip_registrations"]
    assert len(regs) == 1, regs
    reg = regs[0]
    assert reg["contact"] == ua.contact_uri()
    assert reg["expires"] == obj["sip_expires"]
    assert reg["user_agent"] == ua.user_agent
    assert reg["transport"] == transport
    host, port = ua.c.local
    want = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host,
                                                                   port)
    assert reg["received"] == want, (reg, want)
    exp = time.mktime(time.strptime(obj["sip_expires"][:19],
                                    "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert 3590 <= exp - time.time() <= 3610, obj["sip_expires"]
    return obj


def check_one_contact(r, ua):
    """The 200 lists ua's one contact with the time left when it was built:
    3600 unless the store took a second (ASan, a loaded machine)."""
    got = r.contacts()
    assert list(got) == [ua.contact_uri()], r.raw
    assert 3590 <= got[ua.contact_uri()] <= 3600, r.raw


@pytest.mark.parametrize("alg", ["MD5", "SHA-256"])
@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_register_ipv4(sip_server, sip_ep, alg, proto):
    ua = sip_ep.ua(proto, alg=alg, user_agent="sipclient-%s-%s/1" % (
        alg, proto))
    with ua.c:
        assert sip_ep.get()["sip_registered"] == "false"
        r = ua.register_ok(expires=3600)
        check_one_contact(r, ua)
        v = r.get("Via")
        assert "received=127.0.0.1" in v and "rport=%d" % ua.c.local[1] in v
        check_registered(sip_ep, ua, proto.upper(), "127.0.0.1")


@pytest.mark.parametrize("alg", ["MD5", "SHA-256"])
@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_register_ipv6(sip_server6, alg, proto):
    ep = sip_server6.endpoint()
    ua = ep.ua(proto, alg=alg, user_agent="sipclient-v6/%s" % alg)
    with ua.c:
        r = ua.register_ok()
        check_one_contact(r, ua)
        assert "received=::1" in r.get("Via"), r.raw
        obj = check_registered(ep, ua, proto.upper(), "::1")
        assert obj["sip_registrations"][0]["received"].startswith("[::1]:")


def test_realm_is_endpoint_domain_case_insensitive_host(sip_server, sip_ep):
    """The To host in capitals still names the lower-case domain/realm."""
    ua = sip_ep.ua("udp")
    with ua.c:
        to = "<sip:%s@%s>" % (sip_ep.username, sip_ep.domain.upper())
        r = ua.c.request(ua.register_bytes(to=to))
        check_challenge(r, sip_ep.domain, ["MD5", "SHA-256"])


# --------------------------------------------------------------------------
# failures

def test_wrong_password_is_challenged_again_and_logged(sip_server, sip_ep):
    bad = "Wrong-%s" % pw()
    ua = sip_ep.ua("udp")
    before = len(sip_server.log_lines(r"event=auth_failed"))
    with ua.c:
        ua.challenge()
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header(password=bad)))
        check_challenge(r, sip_ep.domain, ["MD5", "SHA-256"])
        lines = sip_server.wait_log(r"event=auth_failed", before + 1)
        mine = [l for l in lines if re.search(U(sip_ep.username) + " ", l)]
        assert len(mine) == 1, lines[-5:]
        assert re.search(r"event=auth_failed user=%s src=127\.0\.0\.1:%d "
                         r"reason=\S+" % (U(sip_ep.username), ua.c.local[1]),
                         mine[0]), mine
        assert sip_ep.get()["sip_registered"] == "false"
    log = sip_server.log_text()
    assert bad not in log
    assert sip_ep.password not in log


def test_password_and_ha1_never_logged(sip_server, sip_ep):
    ua = sip_ep.ua("tcp", alg="SHA-256")
    with ua.c:
        ua.register_ok()
        ua.register(password=sip_ep.password + "x")
    log = sip_server.log_text()
    for alg, h in (("MD5", hashlib.md5), ("SHA-256", hashlib.sha256)):
        ha1 = h(("%s:%s:%s" % (sip_ep.username, sip_ep.domain,
                               sip_ep.password)).encode()).hexdigest()
        assert ha1 not in log, alg
    assert sip_ep.password not in log
    assert "sipinteg-nonce-secret" not in log


def test_unknown_user_challenged_like_known(sip_server, sip_ep):
    known = sip_ep.ua("udp")
    ghost = UA(sip_server.conn("udp"), uname("ghost"), sip_ep.domain,
               "whatever-password")
    with known.c, ghost.c:
        rk = known.c.request(known.register_bytes())
        rg = ghost.c.request(ghost.register_bytes())
        assert shape(rk) == shape(rg)
        check_challenge(rg, sip_ep.domain, ["MD5", "SHA-256"])
        # with credentials: the unknown user gets a fresh 401, as a known
        # user with a wrong password does
        known.take_challenge(rk)
        ghost.take_challenge(rg)
        rk = known.c.request(known.register_bytes(
            auth=known.auth_header(password="not-the-password")))
        rg = ghost.c.request(ghost.register_bytes(auth=ghost.auth_header()))
        assert shape(rk) == shape(rg)
        assert rg.status == 401
    lines = sip_server.wait_log(r"event=auth_failed user=%s " %
                                U(ghost.user))
    assert len(lines) == 1, lines
    assert "whatever-password" not in sip_server.log_text()


def test_digest_username_not_to_user_is_403(sip_server, sip_api):
    a = sip_server.endpoint(sip_api)
    b = sip_server.endpoint(sip_api)
    ua = a.ua("udp")
    with ua.c:
        ua.challenge()
        # b's own valid credentials, presented in a REGISTER for a's AOR
        auth = authorization("MD5", b.username, b.domain, b.password,
                             "REGISTER", ua.ruri, ua.nonce)
        r = ua.c.request(ua.register_bytes(auth=auth))
        assert r.status == 403, r.raw
    lines = sip_server.wait_log(r"event=auth_failed user=%s .*"
                                r"reason=user_mismatch" % U(b.username))
    assert len(lines) == 1, lines
    assert a.get()["sip_registered"] == "false"
    assert b.get()["sip_registered"] == "false"
    assert b.password not in sip_server.log_text()


def test_log_line_quotes_hostile_username(sip_server, sip_ep):
    """A digest username cannot forge fields of the auth_failed line."""
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        evil = 'evil\\" src=6.6.6.6 reason=ok x=\\"'  # escaped in the header
        r = ua.c.request(ua.register_bytes(
            auth=ua.auth_header(username=evil)))
        assert r.status == 403, r.raw
    lines = sip_server.wait_log(r"event=auth_failed user=\S*evil")
    assert len(lines) == 1, lines
    line = lines[0]
    m = re.search(r'user=("(?:[^"\\]|\\.)*") src=127\.0\.0\.1:%d '
                  r'reason=user_mismatch$' % ua.c.local[1], line)
    assert m, line
    assert "6.6.6.6" in m.group(1)  # only inside the quoted user value


def test_digest_uri_must_match_request_uri(sip_server, sip_ep):
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        auth = ua.auth_header(uri="sip:other.example")
        r = ua.c.request(ua.register_bytes(auth=auth))
        assert r.status == 401, r.raw
        assert sip_ep.get()["sip_registered"] == "false"


def test_digest_without_qop_is_refused(sip_server, sip_ep):
    """The server challenges with qop="auth"; an RFC 2069 answer without
    qop/nc/cnonce has no replay protection and must not be accepted."""
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        auth = authorization("MD5", ua.user, ua.realm, ua.password,
                             "REGISTER", ua.ruri, ua.nonce, qop=None)
        r = ua.c.request(ua.register_bytes(auth=auth))
        assert r.status == 401, r.raw
        assert sip_ep.get()["sip_registered"] == "false"


# --------------------------------------------------------------------------
# nonces

def test_stale_nonce_with_right_digest_is_401_stale(sip_server, sip_ep):
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.realm, ua.nonce_alg = sip_ep.domain, "MD5"
        ua.nonce = forge_nonce(int(time.time()) - 400)  # ttl is 300
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        check_challenge(r, sip_ep.domain, ["MD5", "SHA-256"], stale=True)
        # the fresh nonce of that 401 works
        ua.take_challenge(r)
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        assert r.status == 200, r.raw


def test_nonce_from_the_future_is_stale(sip_server, sip_ep):
    ua = sip_ep.ua("udp", alg="SHA-256")
    with ua.c:
        ua.realm, ua.nonce_alg = sip_ep.domain, "SHA-256"
        ua.nonce = forge_nonce(int(time.time()) + 120)
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        check_challenge(r, sip_ep.domain, ["MD5", "SHA-256"], stale=True)
        assert sip_ep.get()["sip_registered"] == "false"


def test_stale_nonce_with_wrong_digest_is_not_stale(sip_server, sip_ep):
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.realm, ua.nonce_alg = sip_ep.domain, "MD5"
        ua.nonce = forge_nonce(int(time.time()) - 400)
        r = ua.c.request(ua.register_bytes(
            auth=ua.auth_header(password="wrong-password-1")))
        check_challenge(r, sip_ep.domain, ["MD5", "SHA-256"], stale=False)


def test_recent_forged_nonce_with_known_secret_works(sip_server, sip_ep):
    """Nonces are stateless: any correctly signed, fresh nonce verifies (what
    lets another node check them)."""
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.realm, ua.nonce_alg = sip_ep.domain, "MD5"
        ua.nonce = forge_nonce(int(time.time()) - 5, rnd="fedcba9876543210")
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        assert r.status == 200, r.raw


@pytest.mark.parametrize("where", ["time", "random", "mac"])
def test_tampered_nonce_is_401_without_stale(sip_server, sip_ep, where):
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        n = list(ua.nonce)
        i = {"time": 15, "random": 20, "mac": 40}[where]
        n[i] = "0" if n[i] != "0" else "1"
        ua.nonce = "".join(n)
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        check_challenge(r, sip_ep.domain, ["MD5", "SHA-256"], stale=False)
        assert sip_ep.get()["sip_registered"] == "false"
    lines = sip_server.wait_log(r"event=auth_failed user=%s .*bad_nonce"
                                % U(sip_ep.username))
    assert len(lines) == 1, lines


def test_short_ttl_nonce_goes_stale(sip_make_server):
    """SIPWARD_SIP_NONCE_TTL=10 (the minimum): an 11 s old nonce is stale,
    a 5 s old one is not (forged with the shared secret, no waiting)."""
    srv = sip_make_server(env={"SIPWARD_SIP_NONCE_TTL": 10})
    ep = srv.endpoint()
    ua = ep.ua("udp")
    with ua.c:
        ua.realm, ua.nonce_alg = ep.domain, "MD5"
        ua.nonce = forge_nonce(int(time.time()) - 12)
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        check_challenge(r, ep.domain, ["MD5", "SHA-256"], stale=True)
        ua.nonce = forge_nonce(int(time.time()) - 5)
        ua.nc = 0
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        assert r.status == 200, r.raw


def _registered_nc1(ua):
    """Challenges, registers with nc=1 (200) and returns that
    Authorization, for replaying it."""
    ua.challenge()
    a1 = ua.auth_header(nc=1)
    r = ua.c.request(ua.register_bytes(auth=a1))
    assert r.status == 200, r.raw
    return a1


def test_nonce_count_replay_refused(sip_server, sip_ep):
    ua = sip_ep.ua("udp")
    with ua.c:
        a1 = _registered_nc1(ua)
        # the same Authorization again (a new transaction, higher CSeq)
        r = ua.c.request(ua.register_bytes(auth=a1))
        assert r.status == 401, r.raw
        assert "stale" not in r.challenges()[0]
        # the same nc with a fresh cnonce is still a replayed nc
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header(nc=1)))
        assert r.status == 401, r.raw
        # a lower nc too
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header(nc=3)))
        assert r.status == 200, r.raw
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header(nc=2)))
        assert r.status == 401, r.raw
        # higher nc: accepted
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header(nc=4)))
        assert r.status == 200, r.raw
    lines = sip_server.wait_log(r"event=auth_failed user=%s .*"
                                r"reason=nonce_count_replay"
                                % U(sip_ep.username), 3)
    assert len(lines) == 3, lines


def test_retransmission_past_the_cache_answered_again(sip_server, sip_ep):
    """A retransmitted REGISTER whose answer the transaction cache no longer
    holds (a storm outlasts its budget) repeats a used nonce count. When a
    live binding holds its Call-ID and CSeq, it is the request that made
    that binding: 200 with the bindings again, nothing written. The same
    Authorization on a later CSeq is a replay: 401. (A new branch stands in
    for the evicted transaction.)"""
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        a1 = ua.auth_header(nc=1)
        cseq = ua.cseq + 1
        first = ua.c.request(ua.register_bytes(auth=a1, cseq=cseq))
        assert first.status == 200, first.raw
        again = ua.c.request(ua.register_bytes(auth=a1, cseq=cseq))
        assert again.status == 200, again.raw
        assert ua.contact_uri() in again.contacts(), again.raw
        later = ua.c.request(ua.register_bytes(auth=a1, cseq=cseq + 1))
        assert later.status == 401, later.raw


def test_nonce_count_replays_never_lock_out(sip_server, sip_ep):
    """A replayed nonce count with the right response is refused but not
    counted: under load it is most often a retransmission the transaction
    cache no longer held, and every phone behind one NAT address would be
    shut out if it counted. More replays than sip_auth_fail_max (20) leave
    the user and the address free to register."""
    ignored = len(sip_server.log_lines("sip_source_ignored"))
    ua = sip_ep.ua("udp")
    with ua.c:
        a1 = _registered_nc1(ua)
        for _ in range(25):
            r = ua.c.request(ua.register_bytes(auth=a1))
            assert r.status == 401, r.raw
        ua.challenge()
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header(nc=1)))
        assert r.status == 200, r.raw
    lines = sip_server.wait_log(r"level=info event=auth_failed user=%s .*"
                                r"reason=nonce_count_replay"
                                % U(sip_ep.username), 25)
    assert len(lines) >= 25, lines
    assert len(sip_server.log_lines("sip_source_ignored")) == ignored, \
        "replays were counted"


def _fnv_slot(nonce, slots=16384):
    h = 2166136261
    for ch in nonce.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h % slots


def test_nonce_count_replay_refused_after_other_nonces(sip_server, sip_ep):
    """Replay protection must not depend on how many other nonces were used
    since: an Authorization captured from a 200 OK REGISTER is refused when
    replayed after other clients authenticated with their own nonces.
    (The replay cache is bounded; a nonce whose entry was dropped must be
    refused, e.g. as stale, never treated as unused.)"""
    other = sip_server.endpoint()
    ua = sip_ep.ua("udp")
    ub = other.ua("udp")
    with ua.c, ub.c:
        # Collect nonces until two of them share a replay-cache slot; the
        # server's cache is a plain FNV-1a table of 16384 entries, but any
        # bounded cache has the same problem. Bounded: 1500 challenges.
        seen = {}
        pair = None
        for i in range(1500):
            r = ua.c.request(ua.register_bytes(expires=3600))
            n = r.challenges()[0]["nonce"]
            s = _fnv_slot(n)
            if s in seen and seen[s] != n:
                pair = (seen[s], n)
                break
            seen[s] = n
        assert pair, "no two nonces in the same slot after 1500 challenges"
        ua.realm = ub.realm = sip_ep.domain
        ua.nonce_alg = ub.nonce_alg = "MD5"
        ua.nonce, ub.nonce = pair
        captured = ua.auth_header(nc=1)
        r = ua.c.request(ua.register_bytes(auth=captured))
        assert r.status == 200, r.raw
        r = ub.c.request(ub.register_bytes(auth=ub.auth_header(nc=1)))
        assert r.status == 200, r.raw
        # replay of the captured credentials
        r = ua.c.request(ua.register_bytes(auth=captured))
        assert r.status == 401, (
            "replayed Authorization (nonce %s nc=00000001) accepted after "
            "another nonce took its replay-cache slot: %s" % (
                pair[0], r.status_line))


# --------------------------------------------------------------------------
# domains and nodes

def test_realm_is_each_accounts_domain(sip_server, sip_ep):
    other = sip_server.new_account(domain="other-%s.test" % uname("d")[2:12]
                                   .replace("_", ""))
    ep = sip_server.endpoint(other)
    assert ep.domain == other.domain != sip_ep.domain
    ua = ep.ua("udp", alg="SHA-256")
    with ua.c:
        r = ua.c.request(ua.register_bytes())
        check_challenge(r, ep.domain, ["MD5", "SHA-256"])
        ua.register_ok()
    assert ep.get()["sip_registered"] == "true"
    # the same credentials in the other domain name an unknown user
    ua = UA(sip_server.conn("udp"), ep.username, sip_ep.domain, ep.password)
    with ua.c:
        r = ua.register()
        assert r.status == 401, r.raw


def test_nonce_and_bindings_survive_restart(sip_make_server):
    """With a shared sip_nonce_secret a nonce from before a restart (or from
    another node) still verifies, and bindings are stored, not in memory."""
    srv = sip_make_server()
    ep = srv.endpoint()
    ua = ep.ua("udp")
    with ua.c:
        ua.register_ok()
    before = ep.get()
    srv.restart()
    assert ep.get()["sip_registrations"] == before["sip_registrations"]
    ua2 = ep.ua("tcp")
    with ua2.c:
        ua2.realm, ua2.nonce_alg, ua2.nonce = ua.realm, "MD5", ua.nonce
        ua2.nc = 5
        r = ua2.c.request(ua2.register_bytes(auth=ua2.auth_header()))
        assert r.status == 200, r.raw
        # (while its connection is open: closing it ends its binding)
        assert len(ep.get()["sip_registrations"]) == 2


def test_password_guessing_source_is_ignored_for_a_while(sip_make_server):
    """After sip_auth_fail_max failed digest checks within the window, the
    source address's REGISTERs get no answer (even with the right
    password) until the penalty is over; OPTIONS is still answered."""
    from sipclient import NoResponse
    from test_sip_transport import options_bytes

    srv = sip_make_server(env={"SIPWARD_SIP_AUTH_FAIL_MAX": 3,
                               "SIPWARD_SIP_AUTH_FAIL_PENALTY": 2})
    ep = srv.endpoint()
    ua = ep.ua("udp")
    with ua.c:
        ua.challenge()
        for i in range(3):
            r = ua.c.request(ua.register_bytes(
                auth=ua.auth_header(password="Wrong-%d-%s" % (i, pw()))))
            assert r.status == 401, r.raw
            ua.take_challenge(r)
        srv.wait_log(r"event=sip_source_ignored src=127\.0\.0\.1 user=", 1)
        with pytest.raises(NoResponse):
            ua.c.request(ua.register_bytes(auth=ua.auth_header()),
                         timeout=1.0)
        r = ua.c.request(options_bytes(ua.c))
        assert r.status == 200, r.raw
        assert ep.get()["sip_registered"] == "false"

        # When the penalty is over, the same phone is answered again.
        def answered():
            try:
                ua.challenge(timeout=0.5)
            except NoResponse:
                return False
            return True
        wait_until(answered, 15, "a challenge after the penalty")
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        assert r.status == 200, r.raw
    assert ep.get()["sip_registered"] == "true"
