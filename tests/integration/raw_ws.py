"""A WebSocket client on a bare socket, with every frame built by hand, for the frames a well-behaved library
refuses to send (unmasked frames, RSV bits, unknown opcodes, fragmented or oversized control frames, invalid
close codes, a 64-bit length with its top bit set). It also reads what the server sends strictly: every text
message must be one JSON document in valid UTF-8, and a close frame's reason valid UTF-8. Every blocking call
has a timeout."""
import base64
import json
import os
import socket
import struct
import time

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def frame(opcode, payload=b"", fin=True, masked=True, rsv=0, length=None):
    """One frame as a client sends it; `length` overrides the encoded payload length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n <= 0xFFFF:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_frame(code=None, reason=b"", **kwargs):
    payload = b"" if code is None else struct.pack("!H", code) + reason
    return frame(CLOSE, payload, **kwargs)


def strict_json(text):
    """The document, or an exception for anything RFC 8259 does not allow (NaN, Infinity, duplicate keys are
    allowed by the RFC and kept)."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class RawClient:
    def __init__(self, port, path="/websocket", timeout=10, receive_buffer=None, pipelined=b""):
        """`pipelined`: bytes sent in the same write as the upgrade request, before its answer."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            # Before connecting, so that the window the client offers is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode() + pipelined)
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._read_more(timeout)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101 "):
            raise AssertionError(f"no upgrade: {head!r}")
        self.texts = []  # every text message received, parsed
        self.close_code = None
        self.close_reason = None

    def _read_more(self, timeout):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server ended the connection")
        self.buffer += data

    def _take(self, n, deadline):
        while len(self.buffer) < n:
            self._read_more(max(0.01, deadline - time.monotonic()))
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def send_json(self, value):
        self.send(frame(TEXT, json.dumps(value)))

    def read_frame(self, timeout=10):
        """(opcode, payload) of the next frame; the server's frames must be final-or-fragment, unmasked, no RSV."""
        deadline = time.monotonic() + timeout
        b0, b1 = self._take(2, deadline)
        if b0 & 0x70 or b1 & 0x80:
            raise AssertionError(f"a server frame with RSV bits or a mask: {b0:#x} {b1:#x}")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
        return b0 & 0x0F, b0 & 0x80, self._take(n, deadline)

    def recv(self, timeout=10):
        """The next text message, parsed strictly; pongs are skipped; a close frame raises Closed."""
        while True:
            opcode, fin, payload = self.read_frame(timeout)
            if opcode == TEXT:
                if not fin:
                    raise AssertionError("the server fragmented a message")
                value = strict_json(payload.decode("utf-8"))  # UnicodeDecodeError when not UTF-8
                self.texts.append(value)
                return value
            if opcode == CLOSE:
                if len(payload) == 1:
                    raise AssertionError("a close frame with a one-byte payload")
                self.close_code = struct.unpack("!H", payload[:2])[0] if payload else None
                self.close_reason = payload[2:].decode("utf-8")
                raise Closed(self.close_code, self.close_reason)
            if opcode in (PONG, PING):
                if opcode == PONG:
                    self.last_pong = payload
                continue
            raise AssertionError(f"the server sent opcode {opcode}")

    def until_closed(self, timeout=10):
        """Reads until the server's close frame; returns (messages, close code, reason)."""
        messages = []
        try:
            while True:
                messages.append(self.recv(timeout))
        except Closed as closed:
            return messages, closed.code, closed.reason

    def ended(self, timeout=10):
        """True once the server ends the TCP connection (after its close frame), within `timeout`; what it sends
        meanwhile is dropped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except ConnectionError:
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
