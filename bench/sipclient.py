"""sipclient.py - a minimal UDP REGISTER client for the instruction counts:
one request at a time, each answered before the next. It fetches one nonce
with an unauthenticated REGISTER and then sends REGISTERs that carry MD5
digest credentials for that nonce with qop=auth and an increasing nonce
count, which sipward accepts (src/registrar/registrar.c: one nonce, nc
strictly increasing, within sip_nonce_ttl)."""
import hashlib
import os
import re
import socket

import provision as pv


class RegClient:
    def __init__(self, port, domain, timeout=30.0):
        self.port = port
        self.domain = domain
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(timeout)
        self.lport = self.s.getsockname()[1]
        self.n = 0
        self.nonce = None
        self.nc = 0
        self.ruri = "sip:127.0.0.1:%d" % port

    def _msg(self, user, auth=None):
        self.n += 1
        tag = "%d.%d" % (os.getpid(), self.n)
        return ("REGISTER %s SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKcg%s;rport\r\n"
                "From: <sip:%s@%s>;tag=%s\r\n"
                "To: <sip:%s@%s>\r\n"
                "Call-ID: cg%s@bench\r\n"
                "CSeq: 1 REGISTER\r\n"
                "Contact: <sip:%s@127.0.0.1:%d;transport=udp>\r\n"
                "%s"
                "Max-Forwards: 70\r\nExpires: 3600\r\n"
                "User-Agent: sipward-bench\r\nContent-Length: 0\r\n\r\n"
                % (self.ruri, self.lport, tag, user, self.domain, tag, user,
                   self.domain, tag, user, self.lport,
                   ("Authorization: %s\r\n" % auth) if auth else ""))

    def _send(self, msg):
        self.s.sendto(msg.encode(), ("127.0.0.1", self.port))
        data = self.s.recv(65536).decode(errors="replace")
        status = int(data.split(" ", 2)[1])
        return status, data

    def challenge(self, i):
        """An unauthenticated REGISTER for user i; returns the status (401)
        and keeps the nonce."""
        status, data = self._send(self._msg(pv.username(i)))
        m = re.search(r'nonce="([^"]+)"', data)
        if m:
            self.nonce = m.group(1)
            self.nc = 0
        return status

    def register(self, i):
        """An authenticated REGISTER for user i with the kept nonce."""
        user, pw = pv.username(i), pv.password(i)
        self.nc += 1
        nc = "%08x" % self.nc
        cnonce = "c%x" % self.nc
        ha1 = hashlib.md5(("%s:%s:%s" % (user, self.domain, pw)).encode())
        ha2 = hashlib.md5(("REGISTER:%s" % self.ruri).encode()).hexdigest()
        resp = hashlib.md5(("%s:%s:%s:%s:auth:%s" % (
            ha1.hexdigest(), self.nonce, nc, cnonce, ha2)).encode())
        auth = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                'response="%s", algorithm=MD5, qop=auth, nc=%s, '
                'cnonce="%s"' % (user, self.domain, self.nonce, self.ruri,
                                 resp.hexdigest(), nc, cnonce))
        status, _ = self._send(self._msg(user, auth))
        return status

    def close(self):
        self.s.close()
