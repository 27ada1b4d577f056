"""A scriptable SIP phone for the call tests: registers one endpoint over
its own UDP socket or TCP connection (so sipward calls it back on it), places
calls (answering 407 with Proxy-Authorization), receives them, and answers,
cancels, hangs up or re-INVITEs exactly when a test says. Every message it
receives is kept, so tests can look at what sipward sent.

By default its UDP socket is connected to the one server it registers with.
Phone(..., connect=False) behaves as a real phone does instead: it takes
requests from any address (another node of a cluster), answers each to the
address it came from (RFC 3261 18.2.2, rport) and sends requests within a
dialog to the dialog's remote target."""

import re
import socket
import threading
import time
import uuid

import sipclient
from sipclient import SipConn, UA, build_request, new_branch, new_tag

SDP_AUDIO = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
SDP_VIDEO = SDP_AUDIO + "m=video %d RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"


class Msg:
    """A SIP request or response."""

    def __init__(self, raw, source=None, at=None):
        self.raw = raw
        self.source = source  # (host, port) it came from, when known
        self.at = at  # time.monotonic() when the phone read it
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.first = lines[0]
        parts = lines[0].split(" ", 2)
        if parts[0] == "SIP/2.0":
            self.is_request = False
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self.method = None
        else:
            self.is_request = True
            self.method, self.ruri = parts[0], parts[1]
            self.status = None
        self.headers = []
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

    @property
    def cseq(self):
        n, m = self.get("CSeq").split()
        return int(n), m

    @property
    def call_id(self):
        return self.get("Call-ID")

    def tag(self, hdr):
        m = re.search(r";\s*tag=([^;\s>]+)", self.get(hdr) or "")
        return m.group(1) if m else None

    def contact_uri(self):
        c = self.get("Contact") or ""
        m = re.search(r"<([^>]*)>", c)
        return m.group(1) if m else c.split(";")[0].strip()

    def __repr__(self):
        return "<%s>" % self.first


class Dialog:
    """What a phone knows of one call."""

    def __init__(self, call_id, local_tag, local_uri, remote_uri):
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = None
        self.local_uri, self.remote_uri = local_uri, remote_uri
        self.remote_target = None
        self.cseq = 1
        self.invite = None  # the INVITE received (callee side)
        self.invite_bytes = None  # the INVITE sent (caller side)
        self.invite_branch = None
        # The route set (RFC 3261 12.1): Record-Route values, in the
        # order this phone's requests list them as Route headers.
        self.route = []


def record_routes(m):
    """m's Record-Route values in order, one per name-addr."""
    out = []
    for v in m.all("Record-Route"):
        out += [x.strip() for x in re.findall(r"[^,<]*<[^>]*>[^,]*", v)]
    return out


def uri_hostport(uri):
    """(host, port) of a sip: URI (port 5060 when it has none)."""
    m = re.match(r"(?i)sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?",
                 uri)
    assert m, "not a SIP URI: %r" % uri
    return m.group(1).strip("[]"), int(m.group(2) or 5060)


class Phone:
    def __init__(self, server, user, password, domain, proto="udp",
                 connect=True):
        """connect=False (UDP): an unconnected socket, as a real phone's
        (see the module's docstring); requests still go to server."""
        port = server.port_of(proto) if hasattr(server, "port_of") \
            else server.sip_port
        self.c = SipConn("127.0.0.1", port, proto=proto, connect=connect)
        self.ua = UA(self.c, user, domain, password)
        self.user, self.domain, self.password = user, domain, password
        self.inbox = []  # messages received and not yet taken
        self.seen = []  # every message received
        self.current = None  # Call-ID of the last INVITE/MESSAGE placed
        self.done = set()  # those placed before it

    # ---- plumbing ----

    @property
    def proto(self):
        return self.c.proto

    def close(self):
        self.c.close()

    def send(self, data, to=None):
        """Sends to the server, or to `to` ((host, port)) when the socket is
        unconnected; a connected phone ignores `to`."""
        self.c.send(data, to if not self.c.connected else None)

    def send_in_dialog(self, d, data):
        """Sends a request of dialog d to its remote target (unconnected
        socket), else to the server."""
        self.send(data, self.dialog_peer(d))

    def dialog_peer(self, d):
        """Where requests of dialog d go: its remote target's host and port
        on an unconnected socket, None (the server) otherwise."""
        if self.c.connected or not d.remote_target:
            return None
        return uri_hostport(d.route[0] if d.route else d.remote_target)

    def _pump(self, timeout):
        raw, src = self.c.recv_from(timeout)
        m = Msg(raw, source=src, at=time.monotonic())
        self.seen.append(m)
        if not m.is_request and m.cseq[1] in ("INVITE", "MESSAGE") and \
                m.call_id in self.done:
            # A late retransmission of the answer to an INVITE or MESSAGE
            # this phone placed before its current one (a test that has
            # moved on does not ACK it): not what the next wait is for.
            return
        self.inbox.append(m)

    def wait(self, pred, timeout=10.0, what="a message"):
        """Takes the first message matching pred, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.inbox):
                if pred(m):
                    return self.inbox.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    "%s: no %s within %.1fs; got %r" % (
                        self.user, what, timeout, self.inbox))
            try:
                self._pump(min(left, 0.5))
            except sipclient.NoResponse:
                pass

    def wait_request(self, method, timeout=10.0):
        return self.wait(lambda m: m.is_request and m.method == method,
                         timeout, "%s request" % method)

    def begin(self, call_id):
        """A new INVITE or MESSAGE from this phone: answers to the INVITEs
        and MESSAGEs it placed before are no longer waited for."""
        if self.current:
            self.done.add(self.current)
        self.current = call_id
        self.inbox = [m for m in self.inbox if m.is_request or
                      m.cseq[1] not in ("INVITE", "MESSAGE") or
                      m.call_id not in self.done]

    def wait_response(self, method, status=None, timeout=10.0, final=False):
        def pred(m):
            if m.is_request or m.cseq[1] != method:
                return False
            if final and m.status < 200:
                return False
            return status is None or m.status == status
        return self.wait(pred, timeout, "%s response %s" % (
            method, status or ("final" if final else "")))

    def expect_no(self, pred, timeout=1.0, what="message"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.inbox:
                if pred(m):
                    raise AssertionError("%s: unexpected %s: %r" % (
                        self.user, what, m.raw[:400]))
            try:
                self._pump(max(0.01, deadline - time.monotonic()))
            except sipclient.NoResponse:
                pass

    def via(self, branch=None):
        return "SIP/2.0/%s %s;branch=%s;rport" % (
            self.c.transport, self.c.local_hostport, branch or new_branch())

    @property
    def contact(self):
        return "<sip:%s@%s;transport=%s>" % (self.user, self.c.local_hostport,
                                             self.c.uri_transport)

    # ---- registration ----

    def register(self):
        r = self.ua.register(contacts=[self.contact], expires=3600)
        assert r.status == 200, "REGISTER: %r %r" % (r, r.raw[:400])
        return r

    # ---- placing calls ----

    def invite_bytes(self, d, ruri, sdp, auth=None, branch=None, extra=()):
        h = [("Via", self.via(branch)), ("Max-Forwards", "70"),
             ("From", "<%s>;tag=%s" % (d.local_uri, d.local_tag)),
             ("To", "<%s>" % d.remote_uri),
             ("Call-ID", d.call_id), ("CSeq", "%d INVITE" % d.cseq),
             ("Contact", self.contact)]
        if auth:
            h.append(("Proxy-Authorization", auth))
        h += list(extra)
        if sdp:
            h.append(("Content-Type", "application/sdp"))
        return build_request("INVITE", ruri, h, sdp.encode() if sdp else b"")

    def call(self, target_user, sdp=None, extra=(), auth=True, ruri=None):
        """Sends an INVITE to target_user@domain, answering the 407. Returns
        the dialog; the caller then waits for responses."""
        ruri = ruri or "sip:%s@%s" % (target_user, self.domain)
        d = Dialog(uuid.uuid4().hex + "@phone", new_tag(),
                   "sip:%s@%s" % (self.user, self.domain), ruri)
        self.begin(d.call_id)
        sdp = SDP_AUDIO % 40000 if sdp is None else sdp
        br = new_branch()
        self.send(self.invite_bytes(d, ruri, sdp, branch=br, extra=extra))
        if not auth:
            d.invite_branch = br
            return d
        r = self.wait_response("INVITE", final=True)
        assert r.status == 407, "expected 407, got %r %r" % (r, r.raw[:500])
        self.ack_non2xx(d, r, ruri, br)
        ch = sipclient.parse_auth_params(r.get("Proxy-Authenticate"))
        d.cseq += 1
        a = sipclient.authorization(
            ch.get("algorithm", "MD5").upper(), self.user, ch["realm"],
            self.password, "INVITE", ruri, ch["nonce"])
        br = new_branch()
        d.invite_branch = br
        d.invite_bytes = self.invite_bytes(d, ruri, sdp, auth=a, branch=br,
                                           extra=extra)
        d.ruri = ruri
        self.send(d.invite_bytes)
        return d

    def message(self, target_user, text, ctype="text/plain", auth=True):
        """Sends a MESSAGE (answering the 407); returns the final answer."""
        ruri = "sip:%s@%s" % (target_user, self.domain)
        call_id, tag, cseq = uuid.uuid4().hex + "@phone", new_tag(), 1
        self.begin(call_id)
        body = text.encode() if isinstance(text, str) else text

        def req(auth_hdr):
            h = [("Via", self.via()), ("Max-Forwards", "70"),
                 ("From", "<sip:%s@%s>;tag=%s" % (self.user, self.domain,
                                                  tag)),
                 ("To", "<%s>" % ruri), ("Call-ID", call_id),
                 ("CSeq", "%d MESSAGE" % cseq)]
            if auth_hdr:
                h.append(("Proxy-Authorization", auth_hdr))
            h.append(("Content-Type", ctype))
            return build_request("MESSAGE", ruri, h, body)
        self.send(req(None))
        r = self.wait_response("MESSAGE", final=True)
        if not auth or r.status != 407:
            return r
        ch = sipclient.parse_auth_params(r.get("Proxy-Authenticate"))
        cseq += 1
        a = sipclient.authorization(
            ch.get("algorithm", "MD5").upper(), self.user, ch["realm"],
            self.password, "MESSAGE", ruri, ch["nonce"])
        self.send(req(a))
        return self.wait_response("MESSAGE", final=True)

    def ack_non2xx(self, d, resp, ruri, branch):
        h = [("Via", self.via(branch)), ("Max-Forwards", "70"),
             ("From", "<%s>;tag=%s" % (d.local_uri, d.local_tag)),
             ("To", resp.get("To")), ("Call-ID", d.call_id),
             ("CSeq", "%d ACK" % d.cseq)]
        self.send(build_request("ACK", ruri, h))

    def answered(self, d, resp):
        """Takes a 2xx to our INVITE: remembers the dialog, sends ACK."""
        d.remote_tag = resp.tag("To")
        d.remote_target = resp.contact_uri()
        d.route = list(reversed(record_routes(resp)))
        self.send_in_dialog(d, self.in_dialog(d, "ACK", cseq=d.cseq))

    def cancel(self, d):
        h = [("Via", self.via(d.invite_branch)), ("Max-Forwards", "70"),
             ("From", "<%s>;tag=%s" % (d.local_uri, d.local_tag)),
             ("To", "<%s>" % d.remote_uri), ("Call-ID", d.call_id),
             ("CSeq", "%d CANCEL" % d.cseq)]
        self.send(build_request("CANCEL", d.ruri, h))

    # ---- receiving calls ----

    def incoming(self, timeout=10.0):
        inv = self.wait_request("INVITE", timeout)
        d = Dialog(inv.call_id, new_tag(), None, None)
        d.remote_tag = inv.tag("From")
        d.invite = inv
        d.remote_target = inv.contact_uri()
        d.route = record_routes(inv)
        d.local_uri = re.search(r"<([^>]*)>", inv.get("To")).group(1)
        d.remote_uri = re.search(r"<([^>]*)>", inv.get("From")).group(1)
        d.cseq = 0
        return d

    def respond(self, req, status, reason="", tag=None, sdp=None, extra=()):
        h = [(n, v) for n, v in req.headers
             if n.lower() in ("via", "from", "call-id", "cseq")]
        to = req.get("To")
        if tag and ";tag=" not in to:
            to += ";tag=" + tag
        h.insert(1, ("To", to))
        if 100 < status < 300 and req.method in ("INVITE", "UPDATE"):
            h.append(("Contact", self.contact))
        if 100 < status < 300 and req.method == "INVITE":
            # a UAS copies Record-Route into the answers that make the
            # dialog (RFC 3261 12.1.1)
            h += [(n, v) for n, v in req.headers
                  if n.lower() == "record-route"]
        h += list(extra)
        if sdp:
            h.append(("Content-Type", "application/sdp"))
        data = ("SIP/2.0 %d %s\r\n" % (status, reason or "X")).encode()
        body = sdp.encode() if sdp else b""
        data += build_request("X", "x", h, body).split(b"\r\n", 1)[1]
        # to where the request came from (its top Via's received/rport)
        self.send(data, req.source)
        return data

    # ---- within a dialog ----

    def in_dialog(self, d, method, cseq=None, sdp=None, extra=()):
        if cseq is None:
            d.cseq += 1
            cseq = d.cseq
        h = [("Via", self.via()), ("Max-Forwards", "70"),
             ("From", "<%s>;tag=%s" % (d.local_uri, d.local_tag)),
             ("To", "<%s>;tag=%s" % (d.remote_uri, d.remote_tag)),
             ("Call-ID", d.call_id), ("CSeq", "%d %s" % (cseq, method))]
        # loose routing only (every proxy here puts ;lr)
        h += [("Route", r) for r in d.route]
        if method in ("INVITE", "UPDATE"):
            h.append(("Contact", self.contact))
        h += list(extra)
        if sdp:
            h.append(("Content-Type", "application/sdp"))
        return build_request(method, d.remote_target, h,
                             sdp.encode() if sdp else b"")

    def bye(self, d):
        self.send_in_dialog(d, self.in_dialog(d, "BYE"))
        return self.wait_response("BYE", final=True)


class UdpPeer:
    """A SIP server on a UDP socket of 127.0.0.1 (a carrier, another
    domain's server): records every message it gets and hands each request
    but ACK to handle(m, addr), which a subclass writes; reply() answers
    one with the given status, its To tagged `tag`."""

    def __init__(self, tag):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.tag = tag
        self.got = []
        self.peer = None
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def reply(self, m, addr, status, reason, extra=(), sdp=None):
        h = [(n, v) for n, v in m.headers
             if n.lower() in ("via", "from", "call-id", "cseq")]
        to = m.get("To")
        if status > 100 and ";tag=" not in to:
            to += ";tag=" + self.tag
        h.insert(1, ("To", to))
        h += list(extra)
        body = sdp.encode() if sdp else b""
        if sdp:
            h.append(("Content-Type", "application/sdp"))
        h.append(("Content-Length", str(len(body))))
        data = "SIP/2.0 %d %s\r\n" % (status, reason)
        data += "".join("%s: %s\r\n" % kv for kv in h) + "\r\n"
        self.s.sendto(data.encode() + body, addr)

    def handle(self, m, addr):
        raise NotImplementedError

    def run(self):
        while not self.stop:
            try:
                raw, addr = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = Msg(raw)
            self.got.append(m)
            self.peer = addr
            if m.is_request and m.method != "ACK":
                self.handle(m, addr)

    def requests(self, method):
        return [m for m in self.got if m.is_request and m.method == method]

    def close(self):
        self.stop = True
        self.s.close()
        self.t.join(5)
