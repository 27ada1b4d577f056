"""Minimal SIP client (UDP REGISTER with MD5 digest, qop=auth): the fallback
when tests/integ/sip/sipclient.py is not there. Same names and signatures
as the subset of sipclient that the multi-node tests use."""

import hashlib
import re
import socket
import uuid

RECV_TIMEOUT = 3.0


class NoResponse(AssertionError):
    pass


class Response:
    def __init__(self, raw):
        self.raw = raw
        head = raw.partition(b"\r\n\r\n")[0].decode("latin-1")
        lines = head.split("\r\n")
        self.status_line = lines[0]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[0] != "SIP/2.0" or not parts[1].isdigit():
            raise AssertionError("not a SIP status line: %r" % raw[:200])
        self.status = int(parts[1])
        self.headers = []
        for l in lines[1:]:
            n, _, v = l.partition(":")
            self.headers.append((n.strip(), v.strip()))

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def get(self, name):
        v = self.all(name)
        return v[0] if v else None

    def contacts(self):
        """Contact URIs of a 200 OK as {uri: expires or None}."""
        out = {}
        for v in self.all("Contact"):
            for item in re.findall(r"<([^>]*)>([^,]*)", v):
                m = re.search(r";\s*expires=(\d+)", item[1])
                out[item[0]] = int(m.group(1)) if m else None
        return out

    def challenges(self):
        out = []
        for v in self.all("WWW-Authenticate"):
            d = {}
            for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("[^"]*"|[^,\s]+)',
                                 v.partition(" ")[2]):
                d[m.group(1).lower()] = m.group(2).strip('"')
            out.append(d)
        return out

    def __repr__(self):
        return "<SIP %d>" % self.status


def H(alg, s):
    f = hashlib.sha256 if alg == "SHA-256" else hashlib.md5
    return f(s.encode()).hexdigest()


class SipConn:
    def __init__(self, host, port, proto="udp", timeout=RECV_TIMEOUT):
        assert proto == "udp", "the fallback client speaks UDP only"
        self.proto = "udp"
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.connect((host, port))
        self.local = self.sock.getsockname()[:2]

    @property
    def local_hostport(self):
        return "%s:%d" % self.local

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.send(data)

    def recv(self, timeout=None):
        self.sock.settimeout(timeout or self.timeout)
        try:
            return Response(self.sock.recv(65536))
        except socket.timeout:
            raise NoResponse("no UDP response")

    def request(self, data, timeout=None):
        self.send(data)
        return self.recv(timeout)


class UA:
    def __init__(self, conn, user, domain, password, alg=None,
                 user_agent="mnsip/1.0", call_id=None):
        self.c = conn
        self.user, self.domain, self.password = user, domain, password
        self.alg = alg
        self.user_agent = user_agent
        self.call_id = call_id or uuid.uuid4().hex + "@mnsip"
        self.from_tag = uuid.uuid4().hex[:10]
        self.cseq = 0
        self.nonce = None
        self.nonce_alg = None
        self.realm = None
        self.nc = 0

    @property
    def ruri(self):
        return "sip:%s" % self.domain

    @property
    def aor(self):
        return "sip:%s@%s" % (self.user, self.domain)

    def register_bytes(self, contacts=None, expires=None, auth=None,
                       extra=()):
        self.cseq += 1
        if contacts is None:
            contacts = ["<sip:%s-a@%s;transport=udp>" % (
                self.user, self.c.local_hostport)]
        h = ["REGISTER %s SIP/2.0" % self.ruri,
             "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport" % (
                 self.c.local_hostport, uuid.uuid4().hex[:20]),
             "Max-Forwards: 70",
             "From: <%s>;tag=%s" % (self.aor, self.from_tag),
             "To: <%s>" % self.aor,
             "Call-ID: %s" % self.call_id,
             "CSeq: %d REGISTER" % self.cseq]
        if contacts == "*":
            h.append("Contact: *")
        else:
            h += ["Contact: %s" % c for c in contacts]
        if expires is not None:
            h.append("Expires: %d" % expires)
        if auth:
            h.append("Authorization: %s" % auth)
        h.append("User-Agent: %s" % self.user_agent)
        h += ["%s: %s" % kv for kv in extra]
        h.append("Content-Length: 0")
        return ("\r\n".join(h) + "\r\n\r\n").encode()

    def take_challenge(self, resp):
        assert resp.status == 401, "expected 401, got %r" % resp
        for ch in resp.challenges():
            if self.alg is None or ch.get("algorithm", "MD5").upper() == \
                    self.alg:
                self.nonce = ch["nonce"]
                self.nonce_alg = ch.get("algorithm", "MD5").upper()
                self.realm = ch["realm"]
                self.nc = 0
                return ch
        raise AssertionError("no %s challenge: %r" % (self.alg, resp.raw))

    def challenge(self, **kw):
        r = self.c.request(self.register_bytes(**kw))
        self.take_challenge(r)
        return r

    def auth_header(self, password=None, nonce=None):
        self.nc += 1
        nc = "%08x" % self.nc
        cnonce = uuid.uuid4().hex[:16]
        alg = self.nonce_alg
        ha1 = H(alg, "%s:%s:%s" % (self.user, self.realm,
                                   self.password if password is None
                                   else password))
        ha2 = H(alg, "REGISTER:%s" % self.ruri)
        n = nonce or self.nonce
        resp = H(alg, "%s:%s:%s:%s:auth:%s" % (ha1, n, nc, cnonce, ha2))
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                'response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s"'
                % (self.user, self.realm, n, self.ruri, resp, alg, nc,
                   cnonce))

    def register(self, contacts=None, expires=3600, password=None,
                 extra=(), fresh_nonce=False):
        if self.nonce is None or fresh_nonce:
            self.challenge(contacts=contacts, expires=expires, extra=extra)
        auth = self.auth_header(password=password)
        return self.c.request(self.register_bytes(
            contacts=contacts, expires=expires, auth=auth, extra=extra))
