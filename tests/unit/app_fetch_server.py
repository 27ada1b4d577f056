#!/usr/bin/env python3
"""A tiny HTTP/1.1 server on 127.0.0.1 for test_app_fetch: prints its port
on stdout, then serves until killed. Paths:
  /echo...      200 text/plain: what it received (method, target, the
                signature headers, content type, body), one "key: value"
                line each
  /xml          200 application/xml <Response/>
  /status/N     status N, text/html
  /redirect?to=U  302 to U
  /big          200 with a Content-Length over 100 KB
  /big-stream   200, over 100 KB, no Content-Length (read to close)
  /slow         never answers (the connection stays open until killed)
  /count        200 text/plain: how many requests came before this one
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

lock = threading.Lock()
count = 0
BIG = 200 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, ctype, body, length=True):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        global count
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        u = urlsplit(self.path)
        with lock:
            before = count
            if u.path != "/count":
                count += 1
        if u.path.startswith("/echo"):
            lines = ["method: " + self.command, "target: " + self.path]
            for h in ("X-Plivo-Signature-V3", "X-Plivo-Signature-V3-Nonce",
                      "X-Vobiz-Signature-V3", "X-Vobiz-Signature-V3-Nonce",
                      "Content-Type", "User-Agent"):
                lines.append("%s: %s" % (h.lower(), self.headers.get(h, "")))
            lines.append("body: " + body.decode("latin-1"))
            self.reply(200, "text/plain", ("\n".join(lines) + "\n").encode())
        elif u.path == "/xml":
            self.reply(200, "application/xml; charset=utf-8",
                       b"<Response><Hangup/></Response>")
        elif u.path.startswith("/status/"):
            self.reply(int(u.path[8:]), "text/html", b"<p>no</p>")
        elif u.path == "/redirect":
            to = parse_qs(u.query).get("to", ["/xml"])[0]
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif u.path == "/big":
            self.reply(200, "application/xml", b" " * BIG)
        elif u.path == "/big-stream":
            self.reply(200, "application/xml", b" " * BIG, length=False)
        elif u.path == "/slow":
            threading.Event().wait()
        elif u.path == "/count":
            self.reply(200, "text/plain", str(before).encode())
        else:
            self.reply(404, "text/plain", b"not found")

    do_GET = handle_any
    do_POST = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client closing early (the body cap tests) is expected


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
