#!/usr/bin/python3
"""Every listener binds exactly the address it is given. For each of the four forms 127.0.0.1, [::1], 0.0.0.0 and
[::], given in turn to the webhook, the metrics listener, the publish endpoint and the replay endpoint, the
relay's listening sockets (read from /proc and the descriptors themselves) are exactly: IPv4 on that address
for an IPv4 address, IPv6 with IPV6_V6ONLY set for an IPv6 one, and nothing else on that port."""
import socket
import urllib.request

from harness import Checks, Relay, expect, tear_down, wait_for, workdir
from process_sockets import listening_sockets

FORMS = ["127.0.0.1", "::1", "0.0.0.0", "::"]
LISTENERS = ["webhook", "metrics", "publish", "replay"]


def free_port_both_families():
    """A port that is free for IPv4 and IPv6 at once (a dual-stack socket holds both while choosing)."""
    with socket.socket(socket.AF_INET6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        return s.getsockname()[1]


def written(address, port):
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def config_for(tmp, name, addresses, ports):
    where = {listener: written(addresses[listener], ports[listener]) for listener in LISTENERS}
    return f"""
[bot]
app_id = "102000000"
client_secret = "sim-secret"
intents = ["GUILDS"]
[gateway]
enabled = false
[publish]
endpoints = ["tcp://{where['publish']}"]
replay_endpoint = "tcp://{where['replay']}"
[webhook]
enabled = true
listen = "{where['webhook']}"
[metrics]
listen = "{where['metrics']}"
[state]
directory = "{tmp}/{name}-state"
"""


def loopback_for(address):
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)


def refused(address, port):
    """True when nothing accepts a TCP connection at address:port."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(2)
        try:
            s.connect((address, port))
            return False
        except ConnectionRefusedError:
            return True


def check_rotation(tmp, parts, rotation):
    addresses = {listener: FORMS[(i + rotation) % len(FORMS)] for i, listener in enumerate(LISTENERS)}
    ports = {listener: free_port_both_families() for listener in LISTENERS}
    relay = Relay(tmp, config_for(tmp, f"relay{rotation}", addresses, ports), name=f"relay{rotation}")
    parts.append(relay)
    metrics_host = loopback_for(addresses["metrics"])
    metrics_url_host = f"[{metrics_host}]" if ":" in metrics_host else metrics_host

    def metrics_up():
        try:
            with urllib.request.urlopen(f"http://{metrics_url_host}:{ports['metrics']}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    wait_for(lambda: relay.proc.poll() is not None or metrics_up(), 15, "the relay's /healthz")
    expect(relay.proc.poll() is None, f"the relay exited: {relay.log_text()[-2000:]}")
    found = listening_sockets(relay.proc.pid)
    for listener in LISTENERS:
        address, port = addresses[listener], ports[listener]
        on_port = [s for s in found if s[2] == port]
        expected_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        expected = [(expected_family, address, port, 1 if expected_family == socket.AF_INET6 else None)]
        expect(on_port == expected, f"{listener} on {written(address, port)}: listening sockets {on_port}, "
                                    f"expected {expected}")
        if address == "::":
            expect(refused("127.0.0.1", port), f"{listener} on [::] accepts IPv4 connections")
        if address == "0.0.0.0":
            expect(refused("::1", port), f"{listener} on 0.0.0.0 accepts IPv6 connections")
    others = [s for s in found if s[2] not in ports.values()]
    expect(others == [], f"listening on more than configured: {others}")
    expect(relay.stop() == 0, "exit code")


def main():
    checks = Checks()
    tmp = workdir()
    parts = []
    try:
        for rotation in range(len(FORMS)):
            forms = ", ".join(f"{listener} {written(FORMS[(i + rotation) % 4], 'P')}"
                              for i, listener in enumerate(LISTENERS))
            checks.run(f"exactly the configured address: {forms}",
                       lambda rotation=rotation: check_rotation(tmp, parts, rotation))
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
