"""Test certificates and what a TLS listener presents."""
import socket
import ssl
import subprocess


def make_certificate(directory, name, host="localhost"):
    """A self-signed EC certificate for `host` (and 127.0.0.1): (cert path, key path)."""
    cert, key = f"{directory}/{name}.crt", f"{directory}/{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", f"/CN={host}",
                    "-addext", f"subjectAltName=DNS:{host},IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def served_certificate(port):
    """The certificate (DER) a new TLS connection to 127.0.0.1:port is given."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)
