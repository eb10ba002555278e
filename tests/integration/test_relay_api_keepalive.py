#!/usr/bin/python3
"""The forwarder keeps its connections to the platform alive and reuses them (docs/api.md), over plain HTTP and
over TLS: sequential requests arrive at the simulator on one TCP connection (its /_sim/api/requests entries
carry the client's source port); after the platform closes an idle connection the next request goes on a new
one and is answered, sent once; the metrics count new and reused connections.
Environment: QQ_RELAY_BIN, QQ_SIM_BIN, QQ_TEST_DATA.
"""
import http.client
import json
import os

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from webhook_client import accepts_connections, free_port

APP_ID = "102000000"
KEY = "k" * 20 + "-keepalive-key-0123456789"
TLS_DIR = os.path.join(os.environ.get("QQ_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data")),
                       "tls")
CA = os.path.join(TLS_DIR, "ca.pem")
SERVER = ["--tls-cert", os.path.join(TLS_DIR, "server.pem"), "--tls-key", os.path.join(TLS_DIR, "server.key")]
BEARER = {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"}


def call(port, method, path, body=None, headers=None, timeout=20):
    data = json.dumps(body).encode() if body is not None else None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Setup:
    """A simulator (plain or TLS) and a relay forwarding to it."""

    def __init__(self, tmp, tls):
        os.makedirs(tmp, exist_ok=True)
        self.sim = Sim(tmp, "--shards", "1", *(SERVER if tls else []), ca_file=CA if tls else None)
        self.api_port = free_port()
        self.metrics_port = free_port()
        clients_file = os.path.join(tmp, "clients")
        with open(clients_file, "w") as f:
            f.write(f"bot {KEY}\n")
        config = relay_config(self.sim, f"ipc://{tmp}/pub.sock", f"{tmp}/state") + f"""
[api]
enabled = true
listen = "127.0.0.1:{self.api_port}"
clients_file = "{clients_file}"
upstream_timeout = 5
[metrics]
listen = "127.0.0.1:{self.metrics_port}"
"""
        env = dict(os.environ, SSL_CERT_FILE=CA) if tls else None
        if env:
            env.pop("SSL_CERT_DIR", None)
        self.relay = Relay(tmp, config, env=env)

    def ready(self):
        wait_for(lambda: self.relay.proc.poll() is not None or accepts_connections(self.api_port), 30,
                 "the api listener")
        expect(self.relay.proc.poll() is None, "the relay exited: " + self.relay.log_text()[-2000:])
        wait_for(lambda: self.sim.get("/_sim/state")["shards"] and self.sim.get("/_sim/state")["shards"][0]["connected"],
                 30, "the shard READY (the relay has a token)")

    def recorded(self):
        return self.sim.get("/_sim/api/requests")["requests"]

    def clear(self):
        self.sim.post("/_sim/api/requests/clear", {})

    def metric(self, name, labels=""):
        status, raw = call(self.metrics_port, "GET", "/metrics")
        expect(status == 200, f"/metrics: {status}")
        for line in raw.decode().splitlines():
            if line.startswith(name + labels + " "):
                return float(line.split()[1])
        return None

    def reply(self, n):
        return call(self.api_port, "POST", "/v2/groups/G1/messages",
                    {"content": f"m{n}", "msg_type": 0, "msg_id": f"M-keep-{n}"}, BEARER)

    def close(self):
        self.relay.close()
        self.sim.close()


def check_reuse(checks, setup, scheme):
    def sequential_requests_share_one_connection():
        setup.clear()
        new_before = setup.metric("qq_relay_api_upstream_connections_total", '{result="new"}')
        for n in range(5):
            status, body = setup.reply(n)
            expect(status == 200, f"request {n}: {status} {body[:200]!r}")
            status, body = call(setup.api_port, "GET", "/users/@me", headers=BEARER)
            expect(status == 200, f"GET {n}: {status} {body[:200]!r}")
        entries = setup.recorded()
        expect(len(entries) == 10, f"{len(entries)} requests recorded")
        ports = {e["client_port"] for e in entries}
        expect(len(ports) == 1 and 0 not in ports, f"the requests came on {len(ports)} connections: {ports}")
        new = setup.metric("qq_relay_api_upstream_connections_total", '{result="new"}') - new_before
        expect(new <= 1, f"{new} new connections for 10 sequential requests")
        expect(setup.metric("qq_relay_api_upstream_connections_total", '{result="reused"}') >= 9, "reused count")
        expect(setup.metric("qq_relay_api_upstream_idle_connections") == 1, "one idle connection after them")
    checks.run(f"{scheme}: ten sequential requests reach the platform on one kept-alive connection",
               sequential_requests_share_one_connection)

    def platform_closes_an_idle_connection():
        setup.clear()
        status, _ = setup.reply(100)
        expect(status == 200, status)
        [first] = setup.recorded()
        expect(setup.metric("qq_relay_api_upstream_idle_connections") == 1, "no connection kept after the answer")
        # The simulator (libwebsockets) closes a kept-alive connection after a few idle seconds; the relay sees
        # it go and drops it from its pool.
        wait_for(lambda: setup.metric("qq_relay_api_upstream_idle_connections") == 0, 20,
                 "the platform closing the idle connection")
        status, body = setup.reply(101)
        expect(status == 200, f"after the close: {status} {body[:200]!r}")
        entries = setup.recorded()
        expect(len(entries) == 2, f"the request was not sent exactly once: {entries}")
        expect(entries[1]["client_port"] != first["client_port"], "the closed connection was used again")
    checks.run(f"{scheme}: after the platform closes an idle connection the next request goes on a new one, once",
               platform_closes_an_idle_connection)


def main():
    checks = Checks()
    tmp = workdir()
    plain = secure = None
    try:
        plain = Setup(os.path.join(tmp, "plain"), tls=False)
        secure = Setup(os.path.join(tmp, "tls"), tls=True)
        plain.ready()
        secure.ready()
        check_reuse(checks, plain, "http")
        check_reuse(checks, secure, "https")
        for setup in (plain, secure):
            expect(setup.relay.proc.poll() is None, "the relay died")
    finally:
        tear_down(checks, tmp, *[s for s in (plain, secure) if s])
    checks.finish()


if __name__ == "__main__":
    main()
