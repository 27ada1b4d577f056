"""Self-signed TLS certificates for the tests (sip_tls, sip_wss), made with
the openssl CLI: one RSA key and one certificate for localhost and
127.0.0.1 (subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1).

    from certs import make_cert
    cert, key = make_cert(tmp_path)

or the session fixture tls_cert (import it into the test module:
`from certs import tls_cert  # noqa: F401`), which makes one pair per run.
"""

import shutil
import subprocess
from pathlib import Path

import pytest


def make_cert(workdir, cn="localhost", days=2):
    """Writes workdir/cert.pem and workdir/key.pem (key mode 0600);
    returns (cert_path, key_path)."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("the openssl CLI is not installed")
    d = Path(workdir)
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    r = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-sha256", "-days", str(days), "-subj", "/CN=%s" % cn,
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "extendedKeyUsage=serverAuth",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, timeout=60)
    assert r.returncode == 0, "openssl req failed (%d): %s" % (
        r.returncode, r.stderr.decode(errors="replace"))
    key.chmod(0o600)
    return cert, key


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """(cert_path, key_path): a self-signed pair for localhost/127.0.0.1."""
    return make_cert(tmp_path_factory.mktemp("tls"))
