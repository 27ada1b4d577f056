"""The rtpengine helper (tests/integ/rtpengine.py) the call tests use for
WebRTC media: it starts a real rtpengine on loopback that answers an ng
ping, and stops it (by PID, reaped)."""

import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rtpengine import Rtpengine  # noqa: E402


def test_rtpengine_answers_ping_and_stops(tmp_path):
    rtp = Rtpengine(tmp_path).start()
    try:
        host, port = rtp.ng.rsplit(":", 1)
        assert host == "127.0.0.1" and 0 < int(port) < 65536
        assert 30000 <= rtp.port_min < rtp.port_max <= 39999
        # The ng protocol by hand: "cookie SP bencoded-dict".
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(b"test_1 d7:command4:pinge", (host, int(port)))
            reply, _ = s.recvfrom(65535)
        assert reply == b"test_1 d6:result4:ponge"
        assert "Startup complete" in rtp.log
        # And through the helper's own bencode.
        assert rtp.request({"command": "ping"}) == {"result": "pong"}
        pid = rtp.proc.pid
    finally:
        rtp.stop()
    assert rtp.proc is None
    # Reaped: no such process any more (not even a zombie).
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
