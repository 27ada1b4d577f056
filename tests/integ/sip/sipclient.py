"""A small SIP client for the registrar tests: UDP, TCP, TLS, WebSocket and
secure WebSocket (RFC 7118; frames built here, masked as a browser's),
REGISTER building, 401 challenge parsing, and RFC 7616 / RFC 8760 digest
responses (MD5 and SHA-256, qop=auth). Deliberately explicit: every header
can be overridden so tests can send exactly the bytes they mean to."""

import base64
import hashlib
import os
import re
import socket
import ssl
import struct
import time
import uuid

RECV_TIMEOUT = 3.0  # seconds to wait for one response


class NoResponse(AssertionError):
    pass


class ConnectionClosed(AssertionError):
    pass


# --------------------------------------------------------------------------
# responses

class Response:
    def __init__(self, raw):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[0] != "SIP/2.0" or not parts[1].isdigit():
            raise AssertionError("not a SIP status line: %r" % raw[:200])
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = []  # (name, value) in order
        for l in lines[1:]:
            if l[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + l.strip())
                continue
            n, _, v = l.partition(":")
            self.headers.append((n.strip(), v.strip()))

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def get(self, name):
        vals = self.all(name)
        return vals[0] if vals else None

    def names(self):
        return [n for n, _ in self.headers]

    def challenges(self):
        """The WWW-Authenticate challenges, each a dict (lower-case keys)
        plus '_scheme' and '_raw'."""
        return [parse_auth_params(v) for v in self.all("WWW-Authenticate")]

    def contacts(self):
        """Contact values of a 200 OK as {uri: expires(int or None)}."""
        out = {}
        for v in self.all("Contact"):
            for item in split_commas(v):
                m = re.match(r"\s*<([^>]*)>(.*)$", item)
                if m:
                    uri, params = m.group(1), m.group(2)
                else:
                    uri, _, params = item.strip().partition(";")
                    params = ";" + params
                exp = None
                for p in params.split(";"):
                    k, _, val = p.strip().partition("=")
                    if k.lower() == "expires":
                        exp = int(val)
                out[uri] = exp
        return out

    def to_tag(self):
        m = re.search(r";\s*tag=([^;\s]+)", self.get("To") or "")
        return m.group(1) if m else None

    def __repr__(self):
        return "<SIP %d %s>" % (self.status, self.reason)


def split_commas(v):
    """Splits a header value on commas outside quotes and <>."""
    out, cur, q, a = [], "", False, False
    for ch in v:
        if ch == '"' and not a:
            q = not q
        elif ch == "<" and not q:
            a = True
        elif ch == ">" and not q:
            a = False
        if ch == "," and not q and not a:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return out


def parse_auth_params(v):
    scheme, _, rest = v.strip().partition(" ")
    d = {"_scheme": scheme, "_raw": v}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)',
                         rest):
        k, val = m.group(1).lower(), m.group(2)
        d["_quoted_" + k] = val.startswith('"')
        if val.startswith('"'):
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        d[k] = val
    return d


# --------------------------------------------------------------------------
# digest (RFC 7616 section 3.4.1, RFC 8760)

HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def H(alg, s):
    return HASHES[alg](s.encode()).hexdigest()


def digest_response(alg, user, realm, password, method, uri, nonce,
                    nc=None, cnonce=None, qop="auth", ha1=None):
    ha1 = ha1 or H(alg, "%s:%s:%s" % (user, realm, password))
    ha2 = H(alg, "%s:%s" % (method, uri))
    if qop:
        return H(alg, "%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop,
                                              ha2))
    return H(alg, "%s:%s:%s" % (ha1, nonce, ha2))


def authorization(alg, user, realm, password, method, uri, nonce,
                  nc="00000001", cnonce=None, qop="auth", response=None,
                  username=None, extra=""):
    """An Authorization header value."""
    if cnonce is None:
        cnonce = uuid.uuid4().hex[:16]
    resp = response or digest_response(alg, user, realm, password, method,
                                       uri, nonce, nc, cnonce, qop)
    v = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
         'response="%s", algorithm=%s' % (
             username if username is not None else user, realm, nonce, uri,
             resp, alg))
    if qop:
        v += ', qop=%s, nc=%s, cnonce="%s"' % (qop, nc, cnonce)
    return v + extra


# --------------------------------------------------------------------------
# transport

def new_branch():
    return "z9hG4bK" + uuid.uuid4().hex[:20]


def new_tag():
    return uuid.uuid4().hex[:10]


def new_callid():
    return uuid.uuid4().hex + "@sipclient"


class SipConn:
    """One UDP socket or TCP connection to the server."""

    def __init__(self, host, port, proto="udp", timeout=RECV_TIMEOUT,
                 source=None, connect=True):
        """source: the local address to send from (e.g. 127.0.0.2, any
        address of 127.0.0.0/8 works on Linux); default: host.

        connect (UDP only): True (the default) connects the socket to
        host:port, so only that address's datagrams are received. False
        leaves it unconnected, as a real phone's: send() goes to host:port
        unless given another address, and datagrams from any address are
        received (recv_from() tells whose), so a request from another node
        of a cluster reaches it. TCP is always connected.

        proto "tls" wraps the TCP connection in TLS (the server's
        certificate is not checked); "ws" and "wss" then open a WebSocket
        with the `sip` subprotocol, on which every message is one masked
        text frame, and name themselves in Via and Contact with a random
        `.invalid` host, as browsers do."""
        self.host, self.port = host, port
        self.proto = proto.lower()
        self.ws = self.proto in ("ws", "wss")
        self.invalid_host = "%s.invalid" % uuid.uuid4().hex[:12]
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.timeout = timeout
        self.buf = b""
        self.connected = connect or self.proto != "udp"
        self.last_source = None  # unconnected UDP: the last sender
        if self.proto == "udp":
            self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
            self.sock.bind((source or host, 0))
            if self.connected:
                self.sock.connect((host, port))
        else:
            self.sock = socket.socket(self.family, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            if source:
                self.sock.bind((source, 0))
            self.sock.connect((host, port))
            if self.proto in ("tls", "wss"):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                self.sock = ctx.wrap_socket(self.sock)
        self.sock.settimeout(timeout)
        self.local = self.sock.getsockname()[:2]
        self.ws_pings = 0  # pings the server sent (answered with pongs)
        if self.ws:
            self.ws_handshake()

    def ws_handshake(self, path="/", protocol="sip", extra=""):
        """Opens the WebSocket; returns the 101's head (asserted)."""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
            "Origin: http://127.0.0.1\r\n%s\r\n" % (
                path, self.server_hostport, key, protocol, extra)).encode())
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if time.monotonic() > deadline:
                raise NoResponse("no WebSocket handshake answer: %r"
                                 % self.buf[:200])
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionClosed("closed during the WebSocket "
                                       "handshake: %r" % self.buf[:300])
            self.buf += chunk
        end = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end:]
        assert head.startswith("HTTP/1.1 101 "), head
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
        ).digest()).decode()
        assert re.search(r"(?im)^Sec-WebSocket-Accept: %s\r$" %
                         re.escape(want), head), head
        return head

    def ws_frame(self, payload, opcode=1, fin=True, mask=True):
        """The bytes of one client frame."""
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        mbit = 0x80 if mask else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([mbit | 127]) + struct.pack("!Q", n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4]
                                  for i, b in enumerate(payload))

    def send_raw(self, data):
        """Bytes on the connection as they are (no WebSocket framing)."""
        self.sock.sendall(data)

    def _ws_next(self):
        """(opcode, payload) of the next whole server frame, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        assert not b[1] & 0x80, "a server frame was masked"
        n, off = b[1] & 0x7f, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < off + n:
            return None
        assert b[0] & 0x80, "a fragmented server frame"
        self.buf = b[off + n:]
        return b[0] & 0x0f, b[off:off + n]
    @property
    def via_host(self):
        if self.ws:
            return self.invalid_host
        return "[%s]" % self.local[0] if ":" in self.local[0] else \
            self.local[0]

    @property
    def local_hostport(self):
        if self.ws:
            return self.invalid_host
        return "%s:%d" % (self.via_host, self.local[1])

    @property
    def uri_transport(self):
        """The transport parameter of our URIs (RFC 7118: ws for WSS)."""
        return "ws" if self.ws else self.proto

    @property
    def server_hostport(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (h, self.port)

    @property
    def transport(self):
        return self.proto.upper()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    @property
    def server_addr(self):
        return (self.host, self.port)

    def send(self, data, addr=None):
        """Sends data to the server, or (unconnected UDP only) to addr, a
        (host, port) tuple. A connected socket refuses another address."""
        if isinstance(data, str):
            data = data.encode()
        if addr is not None and self.connected:
            assert tuple(addr[:2]) == self.server_addr, \
                "a connected %s socket sends only to %s:%d, not %r" % (
                    self.proto, self.host, self.port, addr)
            addr = None
        if self.proto == "udp":
            if self.connected:
                self.sock.send(data)
            else:
                self.sock.sendto(data, tuple(addr[:2]) if addr
                                 else self.server_addr)
        elif self.ws:
            self.sock.sendall(self.ws_frame(data))
        else:
            self.sock.sendall(data)

    def recv_from(self, timeout=None):
        """(bytes, source): one message and the (host, port) it came from
        (the server's address on a connected socket)."""
        raw = self.recv_raw(timeout)
        if self.connected:
            return raw, self.server_addr
        return raw, self.last_source

    def recv_raw(self, timeout=None):
        """One message's bytes (UDP datagram, or one framed TCP message)."""
        t = timeout if timeout is not None else self.timeout
        if self.proto == "udp":
            self.sock.settimeout(t)
            try:
                if self.connected:
                    return self.sock.recv(65536)
                data, src = self.sock.recvfrom(65536)
                self.last_source = tuple(src[:2])
                return data
            except socket.timeout:
                raise NoResponse("no UDP response within %.1fs" % t)
        deadline = time.monotonic() + t
        while True:
            msg = self._frame()
            if msg is not None:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoResponse("no TCP response within %.1fs (buffered %r)"
                                 % (t, self.buf[:200]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionError as e:
                raise ConnectionClosed("TCP connection reset: %s" % e)
            if not chunk:
                raise ConnectionClosed("server closed the TCP connection "
                                       "(buffered %r)" % self.buf[:200])
            self.buf += chunk

    def _frame(self):
        while self.ws:
            f = self._ws_next()
            if f is None:
                return None
            op, data = f
            if op == 9:  # ping: pong
                self.ws_pings += 1
                self.sock.sendall(self.ws_frame(data, opcode=10))
            elif op == 8:
                raise ConnectionClosed("WebSocket close frame %r" % data)
            elif op in (1, 2):
                return data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("latin-1")
        m = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        total = end + 4 + n
        if len(self.buf) < total:
            return None
        msg, self.buf = self.buf[:total], self.buf[total:]
        return msg

    def recv(self, timeout=None):
        return Response(self.recv_raw(timeout))

    def expect_silence(self, timeout=0.5):
        """Asserts that nothing arrives within timeout."""
        try:
            raw = self.recv_raw(timeout)
        except NoResponse:
            return
        raise AssertionError("expected no answer, got %r" % raw[:300])

    def at_eof(self, timeout=3.0):
        """True when the server closed the TCP connection within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def request(self, data, timeout=None):
        self.send(data)
        return self.recv(timeout)


# --------------------------------------------------------------------------
# requests

def build_request(method, ruri, headers, body=b""):
    """headers: list of (name, value); Content-Length added unless given."""
    lines = ["%s %s SIP/2.0" % (method, ruri)]
    have_cl = False
    for n, v in headers:
        if v is None:
            continue
        lines.append("%s: %s" % (n, v))
        have_cl = have_cl or n.lower() in ("content-length", "l")
    if not have_cl:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class UA:
    """A user agent that registers one AOR over one connection. Keeps
    Call-ID, From tag and CSeq across requests (RFC 3261 10.2)."""

    def __init__(self, conn, user, domain, password, alg=None,
                 user_agent="sipclient/1.0", call_id=None):
        self.c = conn
        self.user, self.domain, self.password = user, domain, password
        self.alg = alg  # None: the first challenge offered
        self.user_agent = user_agent
        self.call_id = call_id or new_callid()
        self.from_tag = new_tag()
        self.cseq = 0
        self.nonce = None
        self.nonce_alg = None
        self.nc = 0
        self.last_challenge = None

    @property
    def ruri(self):
        return "sip:%s" % self.domain

    @property
    def aor(self):
        return "sip:%s@%s" % (self.user, self.domain)

    def contact_uri(self, tag="a"):
        return "sip:%s-%s@%s;transport=%s" % (
            self.user, tag, self.c.local_hostport, self.c.uri_transport)

    def register_bytes(self, contacts=None, expires=None, auth=None,
                       cseq=None, branch=None, call_id=None, extra=(),
                       method="REGISTER", ruri=None, to=None):
        """contacts: None = one default contact; [] = none (query);
        '*' = star; list of strings (full contact values)."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        if contacts is None:
            contacts = ["<%s>" % self.contact_uri()]
        h = [("Via", "SIP/2.0/%s %s;branch=%s;rport" % (
                self.c.transport, self.c.local_hostport,
                branch or new_branch())),
             ("Max-Forwards", "70"),
             ("From", "<%s>;tag=%s" % (self.aor, self.from_tag)),
             ("To", to or "<%s>" % self.aor),
             ("Call-ID", call_id or self.call_id),
             ("CSeq", "%d %s" % (cseq, method))]
        if contacts == "*":
            h.append(("Contact", "*"))
        else:
            for c in contacts:
                h.append(("Contact", c))
        if expires is not None:
            h.append(("Expires", str(expires)))
        if auth:
            h.append(("Authorization", auth))
        if self.user_agent:
            h.append(("User-Agent", self.user_agent))
        h += list(extra)
        return build_request(method, ruri or self.ruri, h)

    def pick_challenge(self, resp, alg=None):
        assert resp.status == 401, "expected 401, got %r: %r" % (
            resp, resp.raw[:500])
        chs = resp.challenges()
        assert chs, "401 without WWW-Authenticate: %r" % resp.raw
        want = alg or self.alg
        for ch in chs:
            if want is None or ch.get("algorithm", "MD5").upper() == want:
                return ch
        raise AssertionError("no %s challenge in %r" % (want, resp.raw))

    def take_challenge(self, resp, alg=None):
        ch = self.pick_challenge(resp, alg)
        self.nonce = ch["nonce"]
        self.nonce_alg = ch.get("algorithm", "MD5").upper()
        self.realm = ch["realm"]
        self.nc = 0
        self.last_challenge = ch
        return ch

    def auth_header(self, password=None, nc=None, uri=None, username=None,
                    realm=None, nonce=None, alg=None, method="REGISTER",
                    cnonce=None):
        if nc is None:
            self.nc += 1
            nc = self.nc
        return authorization(alg or self.nonce_alg, self.user,
                             realm or self.realm,
                             self.password if password is None else password,
                             method, uri or self.ruri, nonce or self.nonce,
                             nc="%08x" % nc, cnonce=cnonce,
                             username=username)

    def challenge(self, timeout=None, **kw):
        """Sends an unauthenticated REGISTER and keeps the 401's nonce."""
        r = self.c.request(self.register_bytes(**kw), timeout=timeout)
        self.take_challenge(r)
        return r

    def register(self, contacts=None, expires=3600, password=None,
                 extra=(), fresh_nonce=False, **kw):
        """REGISTER with credentials (getting a challenge first when there is
        no nonce yet). Returns the final response."""
        if self.nonce is None or fresh_nonce:
            self.challenge(contacts=contacts, expires=expires, extra=extra)
        auth = self.auth_header(password=password)
        return self.c.request(self.register_bytes(
            contacts=contacts, expires=expires, auth=auth, extra=extra, **kw))

    def register_ok(self, contacts=None, expires=3600, **kw):
        r = self.register(contacts=contacts, expires=expires, **kw)
        assert r.status == 200, "REGISTER %s: expected 200, got %r\n%s" % (
            self.aor, r, r.raw.decode("latin-1"))
        return r


def free_udp_tcp_port(lo=5000, hi=9999, host="127.0.0.1", seed=None,
                      tls_next=False):
    """A port in [lo, hi] free for both UDP and TCP on host; with tls_next,
    port + 1 free for TCP too (baresip puts its TLS listener there)."""
    import random
    rnd = random.Random(seed if seed is not None else os.getpid())
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        p = rnd.randint(lo, hi)
        u = socket.socket(fam, socket.SOCK_DGRAM)
        t = socket.socket(fam, socket.SOCK_STREAM)
        try:
            u.bind((host, p))
            t.bind((host, p))
            if tls_next:
                with socket.socket(fam, socket.SOCK_STREAM) as t2:
                    t2.bind((host, p + 1))
            return p
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise AssertionError("no free port in %d-%d" % (lo, hi))
