#!/usr/bin/python3
"""Every listener binds exactly the address it is given. For each of the four forms 127.0.0.1, [::1], 0.0.0.0 and
[::], given in turn to the webhook, the metrics listener, the publish endpoint, the replay endpoint and the [api]
listener (the OpenAPI forwarder and the gateway served to SDK bots), the relay's listening sockets (read from
/proc and the descriptors themselves) are exactly: IPv4 on that address for an IPv4 address, IPv6 with
IPV6_V6ONLY set for an IPv6 one, and nothing else on that port.

The same holds with socket activation (docs/operations.md#systemd): a socket handed over at start (LISTEN_PID,
LISTEN_FDS, descriptor 3) is taken only when it is bound to exactly api.listen; one bound elsewhere is closed
with a warning and the relay binds api.listen itself; an IPv6 one that also accepts IPv4 (IPV6_V6ONLY off, as
systemd makes it without BindIPv6Only=ipv6-only) is refused at start."""
import os
import socket
import subprocess
import urllib.request

from harness import RELAY_BIN, Checks, Relay, expect, tear_down, wait_for, workdir
from process_sockets import listening_sockets

FORMS = ["127.0.0.1", "::1", "0.0.0.0", "::"]
LISTENERS = ["webhook", "metrics", "publish", "replay", "api"]
# The forwarder fetches its access token from here: a closed local port, so that nothing leaves the host.
NOWHERE = "http://127.0.0.1:9"


def free_port_both_families():
    """A port that is free for IPv4 and IPv6 at once (a dual-stack socket holds both while choosing)."""
    with socket.socket(socket.AF_INET6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        return s.getsockname()[1]


def written(address, port):
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def clients_file(tmp):
    path = f"{tmp}/clients"
    with open(path, "w") as f:
        f.write("bot " + "k" * 40 + "\n")
    return path


def config_for(tmp, name, addresses, ports):
    where = {listener: written(addresses[listener], ports[listener]) for listener in LISTENERS}
    return f"""
[bot]
app_id = "102000000"
client_secret = "sim-secret"
intents = ["GUILDS"]
[gateway]
enabled = false
api_base = "{NOWHERE}"
token_url = "{NOWHERE}/app/getAppAccessToken"
[publish]
endpoints = ["tcp://{where['publish']}"]
replay_endpoint = "tcp://{where['replay']}"
[webhook]
enabled = true
listen = "{where['webhook']}"
[metrics]
listen = "{where['metrics']}"
[api]
enabled = true
listen = "{where['api']}"
clients_file = "{clients_file(tmp)}"
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


class ActivatedRelay(Relay):
    """A relay given `handed` as systemd would give it (LISTEN_PID, LISTEN_FDS, descriptor 3)."""

    def __init__(self, tmp, config_text, handed, name):
        self.config_path = os.path.join(tmp, f"{name}.toml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "w")
        fd = handed.fileno()
        move = "" if fd == 3 else f"exec 3<&{fd} {fd}<&-; "
        script = move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'
        self.proc = subprocess.Popen(["/bin/bash", "-c", script, RELAY_BIN, "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT, pass_fds=(fd,))


def handed_socket(address, port, v6only=1):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((address, port))
    s.listen(16)
    return s


def socket_inodes(pid):
    inodes = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def activation_config(tmp, name, api_address, api_port):
    addresses = {"webhook": "127.0.0.1", "metrics": "127.0.0.1", "publish": "127.0.0.1", "replay": "127.0.0.1",
                 "api": api_address}
    ports = {listener: free_port_both_families() for listener in LISTENERS}
    ports["api"] = api_port
    return config_for(tmp, name, addresses, ports), ports["metrics"]


def wait_metrics(relay, metrics_port):
    def up():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    wait_for(lambda: relay.proc.poll() is not None or up(), 15, "the relay's /healthz")
    expect(relay.proc.poll() is None, f"the relay exited: {relay.log_text()[-2000:]}")


def activation_takes_exact_address(tmp, parts, address):
    port = free_port_both_families()
    handed = handed_socket(address, port)
    parts.append(handed)
    text, metrics_port = activation_config(tmp, "handed-exact", address, port)
    relay = ActivatedRelay(tmp, text, handed, "handed-exact")
    parts.append(relay)
    wait_metrics(relay, metrics_port)
    found = [s for s in listening_sockets(relay.proc.pid) if s[2] == port]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    expect(found == [(family, address, port, 1 if family == socket.AF_INET6 else None)], f"on the port: {found}")
    expect(os.fstat(handed.fileno()).st_ino in socket_inodes(relay.proc.pid), "the handed-over socket not used")
    expect("api: listening on" in relay.log_text() and "socket activation" in relay.log_text(),
           "the log does not say the socket was handed over")
    expect(relay.stop() == 0, "exit code")


def activation_refuses_other_address(tmp, parts):
    api_port, other_port = free_port_both_families(), free_port_both_families()
    handed = handed_socket("127.0.0.1", other_port)
    parts.append(handed)
    text, metrics_port = activation_config(tmp, "handed-other", "127.0.0.1", api_port)
    relay = ActivatedRelay(tmp, text, handed, "handed-other")
    parts.append(relay)
    wait_metrics(relay, metrics_port)
    found = listening_sockets(relay.proc.pid)
    expect([s for s in found if s[2] == api_port] == [(socket.AF_INET, "127.0.0.1", api_port, None)],
           f"api.listen not bound by the relay itself: {found}")
    expect(os.fstat(handed.fileno()).st_ino not in socket_inodes(relay.proc.pid),
           "the relay keeps a handed-over socket bound to another address than api.listen")
    expect([s for s in found if s[2] == other_port] == [], f"listening on the handed-over address: {found}")
    expect(f"127.0.0.1:{other_port}" in relay.log_text() and "no listener" in relay.log_text(),
           "no warning about the unused handed-over socket")
    expect(relay.stop() == 0, "exit code")


def activation_refuses_dual_stack(tmp, parts):
    port = free_port_both_families()
    handed = handed_socket("::", port, v6only=0)
    parts.append(handed)
    text, _ = activation_config(tmp, "handed-dual", "::", port)
    relay = ActivatedRelay(tmp, text, handed, "handed-dual")
    parts.append(relay)
    wait_for(lambda: relay.proc.poll() is not None, 15, "the relay refusing a dual-stack socket")
    expect(relay.proc.returncode != 0, "exit code 0")
    expect("BindIPv6Only=ipv6-only" in relay.log_text(), f"the reason is not given: {relay.log_text()[-1500:]}")


def activation_names_the_socket_in_the_way(tmp, parts):
    """A handed-over 0.0.0.0:P takes the port api.listen 127.0.0.1:P needs: the error says so, not "another
    process listens there"."""
    port = free_port_both_families()
    handed = handed_socket("0.0.0.0", port)
    parts.append(handed)
    text, _ = activation_config(tmp, "handed-wide", "127.0.0.1", port)
    relay = ActivatedRelay(tmp, text, handed, "handed-wide")
    parts.append(relay)
    wait_for(lambda: relay.proc.poll() is not None, 15, "the relay failing to bind a port a handed-over socket holds")
    expect(relay.proc.returncode != 0, "exit code 0")
    log = relay.log_text()
    expect(f"handed over at start (socket activation) is bound to 0.0.0.0:{port}" in log and
           "ListenStream= exactly api.listen" in log, f"the reason is not given: {log[-1500:]}")


def main():
    checks = Checks()
    tmp = workdir()
    parts = []
    try:
        for rotation in range(len(FORMS)):
            forms = ", ".join(f"{listener} {written(FORMS[(i + rotation) % len(FORMS)], 'P')}"
                              for i, listener in enumerate(LISTENERS))
            checks.run(f"exactly the configured address: {forms}",
                       lambda rotation=rotation: check_rotation(tmp, parts, rotation))
        for address in ("127.0.0.1", "::"):
            checks.run(f"socket activation: a socket bound to api.listen {written(address, 'P')} is taken",
                       lambda address=address: activation_takes_exact_address(tmp, parts, address))
        checks.run("socket activation: a socket bound to another address than api.listen is closed, not served",
                   lambda: activation_refuses_other_address(tmp, parts))
        checks.run("socket activation: a handed-over socket holding api.listen's port is named in the error",
                   lambda: activation_names_the_socket_in_the_way(tmp, parts))
        checks.run("socket activation: an IPv6 socket that also accepts IPv4 is refused for api.listen [::]:P",
                   lambda: activation_refuses_dual_stack(tmp, parts))
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
