"""Signs and posts webhook requests the way the QQ platform does (SPEC section 11), for the integration tests."""
import http.client
import socket
import ssl
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def key_for(secret):
    """The bot's Ed25519 key: the secret's bytes repeated to a 32-byte seed."""
    raw = secret.encode()
    return Ed25519PrivateKey.from_private_bytes((raw * (32 // len(raw) + 1))[:32])


def accepts_connections(port):
    """True once something listens on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebhookClient:
    def __init__(self, port, secret="sim-secret", tls=False, path="/qq/webhook"):
        self.port = port
        self.key = key_for(secret)
        self.tls = tls
        self.path = path

    def connection(self):
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def signed_headers(self, body, timestamp=None):
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        return {"X-Signature-Timestamp": timestamp,
                "X-Signature-Ed25519": self.key.sign(timestamp.encode() + body).hex(),
                "X-Bot-Appid": "102000000", "User-Agent": "QQBot-Callback", "Content-Type": "application/json"}

    def post(self, body, headers=None, method="POST", path=None):
        """Returns (status, response body). `headers` None means correctly signed."""
        if headers is None:
            headers = self.signed_headers(body)
        connection = self.connection()
        try:
            connection.request(method, path or self.path, body=body if method in ("POST", "PUT") else None,
                               headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()
