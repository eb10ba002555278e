#!/usr/bin/python3
"""A Redis that answers every command with a bulk string announced at 512 MB and streamed without end: the
relay of a cluster drops the connection once 16 MiB wait unparsed, logs why, reconnects, stays up (degraded)
and its memory stays bounded; hiredis alone would keep every byte."""
import os
import socket
import threading

from cluster_harness import cluster_config
from cluster_redis import free_port
from harness import Checks, Relay, Sim, expect, tear_down, wait_for, workdir
from metrics_client import get

LIMIT = 16 * 1024 * 1024


class EndlessBulkRedis:
    """Answers the first bytes of each connection with `$536870912` and then 'x' for as long as the peer reads."""

    def __init__(self):
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.server.settimeout(0.5)
        self.sent = []  # bytes streamed to each connection before it closed
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.server.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self.stream, args=(conn,), daemon=True).start()

    def stream(self, conn):
        chunk = b"x" * 65536
        sent = 0
        conn.settimeout(10)
        try:
            conn.recv(4096)  # the relay's first command (AUTH, SELECT or a script)
            conn.sendall(b"$536870912\r\n")
            while not self.stopping and sent < 64 * LIMIT:
                conn.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            conn.close()
            with self.lock:
                self.sent.append(sent)

    def closed_connections(self):
        with self.lock:
            return list(self.sent)

    def stop(self):
        self.stopping = True
        self.server.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1")
    redis = EndlessBulkRedis()
    metrics_port = free_port()
    # In a sanitizer build ASan would keep the freed 16 MiB buffers in its quarantine, and RSS would show that.
    asan = os.environ.get("ASAN_OPTIONS", "")
    relay = Relay(tmp, cluster_config(sim, redis, "hostile", f"ipc://{tmp}/pub.sock", f"{tmp}/state", 1,
                                      metrics_port),
                  env=dict(os.environ, ASAN_OPTIONS=f"{asan}:quarantine_size_mb=0".lstrip(":")))
    try:
        def dropped_and_bounded():
            closed = wait_for(lambda: redis.closed_connections(), 60, "the relay to drop the endless reply")
            # What the relay read before refusing: the limit, one read of hiredis, and the kernel's buffers.
            expect(closed[0] < LIMIT + 8 * 1024 * 1024, f"{closed[0]} bytes streamed before the relay hung up")
            wait_for(lambda: "a reply of more than 16777216 bytes" in relay.log_text(), 10, "the reason in the log")
            expect(rss_kib(relay.proc.pid) < 256 * 1024, f"relay RSS {rss_kib(relay.proc.pid)} KiB")
            wait_for(lambda: len(redis.closed_connections()) >= 2, 30, "a reconnect, refused the same way")
            expect(relay.proc.poll() is None, "the relay exited")
            # Between a connect and the reply it refuses, Redis counts as up for a moment: wait for the state.
            wait_for(lambda: "degraded" in get(metrics_port, "/healthz")[2], 10, "/healthz to say degraded")
        checks.run("an endless bulk reply is refused past 16 MiB: connection dropped, reason logged, "
                   "memory bounded, the relay up and degraded", dropped_and_bounded)
    finally:
        redis.stop()
        tear_down(checks, tmp, relay, sim)
    checks.finish()


if __name__ == "__main__":
    main()
