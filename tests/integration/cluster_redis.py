"""A throwaway redis-server on a loopback port, and the few RESP commands the cluster tests send."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

REDIS_SERVER = os.environ.get("QQ_REDIS_SERVER", shutil.which("redis-server") or "/usr/bin/redis-server")
SCRIPTS_DIR = os.path.join(os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                           "daemon", "cluster", "scripts")


class RedisError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Connection:
    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def command(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.buffer) < size + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("redis closed the connection")
                self.buffer += chunk
            data, self.buffer = self.buffer[:size], self.buffer[size + 2:]
            return data.decode()
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._reply() for _ in range(size)]
        raise RedisError(f"unexpected reply {line!r}")


class RedisServer:
    """`persistent`: an append-only file in its directory, so that a restart keeps the data (as a production
    Redis with `appendonly yes` does); otherwise a restart starts empty."""

    def __init__(self, persistent=False):
        self.dir = tempfile.mkdtemp(prefix="qq-redis-")
        self.persistent = persistent
        self.proc = None
        for _ in range(5):  # another process may take the free port between the probe and redis' bind
            self.port = free_port()
            if self._launch():
                return
        raise AssertionError("redis-server did not start")

    def _launch(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "a")
        durability = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else \
            ["--appendonly", "no"]
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", *durability, "--dir", self.dir],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if self._wait_ready(10):
            return True
        self.stop()
        return False

    def restart(self):
        """Starts it again on the same port after stop()."""
        expect_started = self._launch()
        if not expect_started:
            raise AssertionError(f"redis-server did not start again on port {self.port}")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                conn = Connection(self.port, timeout=1)
                try:
                    if conn.command("PING") == "PONG":
                        return True
                finally:
                    conn.close()
            except (OSError, RedisError):
                time.sleep(0.05)
        return False

    def connect(self):
        return Connection(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


def load_scripts(conn):
    """SCRIPT LOAD every .lua file; returns name -> sha."""
    shas = {}
    for name in sorted(os.listdir(SCRIPTS_DIR)):
        if name.endswith(".lua"):
            with open(os.path.join(SCRIPTS_DIR, name)) as f:
                shas[name[:-4]] = conn.command("SCRIPT", "LOAD", f.read())
    return shas
