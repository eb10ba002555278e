#!/usr/bin/python3
"""The HTTP listeners' connection caps and their behaviour at the open-file limit: a connection over
webhook.max_connections / metrics.max_connections / api.max_connections is closed at once and counted (a
WebSocket of an SDK bot on the [api] listener takes a place like any other connection); with every descriptor
taken by idle connections the relay neither spins nor floods its log, and once some are closed it answers a
valid signed POST (the webhook) or token exchange (the [api] listener, answered by the relay itself) within a
second. Body buffers grow with what arrives, not with what Content-Length claims; a request head over the
limit is refused with 431."""
import base64
import http.client
import json
import os
import resource
import socket
import time

from harness import Checks, Relay, expect, tear_down, wait_for, workdir
from metrics_client import get, metrics
from process_sockets import cpu_seconds, descriptor_count
from webhook_client import WebhookClient, free_port

EVENT = b'{"op":0,"id":"GROUP_AT_MESSAGE_CREATE:limits","t":"GROUP_AT_MESSAGE_CREATE",' \
        b'"d":{"content":"hi","group_openid":"G1","id":"ROBOT1.0_x","timestamp":"2026-11-26T21:00:00+08:00"}}'
DESCRIPTOR_LIMIT = 64


def config(tmp, name, webhook_port, metrics_port, extra_webhook="", extra_metrics=""):
    return f"""
[bot]
app_id = "102000000"
client_secret = "sim-secret"
intents = ["GUILDS"]
[gateway]
enabled = false
[publish]
endpoints = ["ipc://{tmp}/{name}.sock"]
[webhook]
enabled = true
listen = "127.0.0.1:{webhook_port}"
{extra_webhook}
[metrics]
listen = "127.0.0.1:{metrics_port}"
{extra_metrics}
[state]
directory = "{tmp}/{name}-state"
[log]
level = "info"
"""


def idle_connection(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def closed_by_peer(s, timeout):
    """True when the peer closes `s` (EOF or reset) within `timeout` seconds without sending anything."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def healthz_status(port):
    """The status /healthz answers with, or 0 when the connection is refused, closed or reset."""
    try:
        return get(port, "/healthz")[0]
    except (OSError, http.client.HTTPException):
        return 0


def wait_up(relay, metrics_port):
    wait_for(lambda: relay.proc.poll() is not None or get(metrics_port, "/healthz")[0] == 200, 15, "/healthz")
    expect(relay.proc.poll() is None, f"the relay exited: {relay.log_text()[-2000:]}")


def connection_caps(tmp, parts):
    webhook_port, metrics_port = free_port(), free_port()
    relay = Relay(tmp, config(tmp, "caps", webhook_port, metrics_port, "max_connections = 3\nrequest_timeout = 30",
                              "max_connections = 2"), name="caps")
    parts.append(relay)
    wait_up(relay, metrics_port)
    held = [idle_connection(webhook_port) for _ in range(3)]
    parts.extend(held)
    open_webhook = ("qq_relay_listener_connections", 'listener="webhook"')
    wait_for(lambda: metrics(metrics_port).get(open_webhook) == 3, 5, "three webhook connections open")
    extra = idle_connection(webhook_port)
    parts.append(extra)
    expect(closed_by_peer(extra, 5), "the connection over webhook.max_connections was not closed")
    rejected = ("qq_relay_listener_rejected_total", 'listener="webhook",reason="max_connections"')
    expect(metrics(metrics_port).get(rejected) == 1, "the rejection is not counted")
    expect(closed_by_peer(held[0], 0.2) is False, "a connection under the cap was closed")
    held.pop().close()
    wait_for(lambda: metrics(metrics_port).get(open_webhook) == 2, 5, "the closed connection forgotten")
    status, answer = WebhookClient(webhook_port).post(EVENT)
    expect((status, answer) == (200, b'{"op":12,"d":0}'), f"under the cap again, a POST got {status} {answer}")
    # metrics: two idle connections fill it; a third (the scrape itself) is closed at once
    metrics_held = [idle_connection(metrics_port) for _ in range(2)]
    parts.extend(metrics_held)
    wait_for(lambda: healthz_status(metrics_port) == 0, 5, "a scrape refused while two connections are held")
    for s in metrics_held:
        s.close()
    wait_for(lambda: healthz_status(metrics_port) == 200, 5, "scrapes answered again")
    refused = metrics(metrics_port).get(("qq_relay_listener_rejected_total",
                                         'listener="metrics",reason="max_connections"'))
    expect(refused >= 1, f"metrics rejections counted: {refused}")
    expect(relay.stop() == 0, "exit code")


def exhaust_descriptors(relay, port, listener, parts):
    """Takes every descriptor of the relay with idle connections to `port`, checks for 2 s that it neither spins
    nor floods its log, then closes all but the first 16 (which it holds, still idle) so that descriptors free up
    and the backlog drains."""
    pid = relay.proc.pid
    # Twice the limit: the relay takes what it can, the rest wait in the listening socket's backlog.
    idle = [idle_connection(port) for _ in range(2 * DESCRIPTOR_LIMIT)]
    parts.extend(idle)
    # Out of descriptors (EMFILE), or libwebsockets' table (sized from the same limit) full, whichever comes first.
    wait_for(lambda: descriptor_count(pid) >= DESCRIPTOR_LIMIT or f"{listener}: cannot accept" in relay.log_text(),
             10, "every descriptor of the relay taken")
    lines_before = relay.log_text().count("\n")
    cpu_before = cpu_seconds(pid)
    window_started = time.monotonic()
    # The measurement window: nothing to wait for but time, since the point is what the relay does meanwhile.
    while time.monotonic() - window_started < 2.0:
        time.sleep(0.1)
    window = time.monotonic() - window_started
    cpu_used = cpu_seconds(pid) - cpu_before
    log_lines = relay.log_text().count("\n") - lines_before
    print(f"  at the limit: {cpu_used:.2f} s CPU in {window:.1f} s, {log_lines} log line(s)", flush=True)
    expect(relay.proc.poll() is None, "the relay died at the open-file limit")
    expect(cpu_used < 0.25 * window, f"the relay spins at the open-file limit: {cpu_used:.2f} s CPU in {window:.1f} s")
    expect(log_lines < 50, f"{log_lines} log lines in {window:.1f} s at the open-file limit")
    for s in idle[16:]:
        s.close()


def descriptor_exhaustion(tmp, parts):
    webhook_port, metrics_port = free_port(), free_port()
    limit = (DESCRIPTOR_LIMIT, DESCRIPTOR_LIMIT)
    relay = Relay(tmp, config(tmp, "nofile", webhook_port, metrics_port, "request_timeout = 60"), name="nofile",
                  preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
    parts.append(relay)
    wait_up(relay, metrics_port)
    client = WebhookClient(webhook_port)
    expect(client.post(EVENT)[0] == 200, "a POST before the exhaustion")
    exhaust_descriptors(relay, webhook_port, "webhook", parts)
    started = time.monotonic()
    status, answer = client.post(EVENT)
    elapsed = time.monotonic() - started
    print(f"  a valid POST after closing some: answered in {elapsed * 1000:.0f} ms", flush=True)
    expect((status, answer) == (200, b'{"op":12,"d":0}'), f"answer {status} {answer}")
    expect(elapsed < 1.0, f"the POST took {elapsed:.2f} s")
    errors = metrics(metrics_port).get(("qq_relay_listener_accept_errors_total", 'listener="webhook"'), 0)
    expect(errors >= 1, "accept errors not counted")
    expect("webhook: cannot accept connections" in relay.log_text(), "the accept failure is not logged")
    expect(relay.stop() == 0, "exit code")


def virtual_memory_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))


def claimed_bodies_reserve_nothing(tmp, parts):
    webhook_port, metrics_port = free_port(), free_port()
    relay = Relay(tmp, config(tmp, "claims", webhook_port, metrics_port, "request_timeout = 60"), name="claims")
    parts.append(relay)
    wait_up(relay, metrics_port)
    pid = relay.proc.pid
    before = virtual_memory_kib(pid)
    count, claimed = 200, 1_000_000  # each head claims a body just under max_body (1 MiB), then sends nothing
    head = (f"POST /qq/webhook HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
            f"Content-Length: {claimed}\r\n\r\n").encode()
    for _ in range(count):
        s = idle_connection(webhook_port)
        parts.append(s)
        s.sendall(head)
    requests = ("qq_relay_webhook_requests_total", "")
    wait_for(lambda: metrics(metrics_port).get(requests) == count, 10, f"{count} request heads read")
    grown_mib = (virtual_memory_kib(pid) - before) / 1024
    print(f"  {count} heads claiming {claimed} bytes each: address space grew by {grown_mib:.1f} MiB", flush=True)
    expect(grown_mib < 50, f"the relay reserved what Content-Length claimed: {grown_mib:.0f} MiB more")
    expect(relay.stop() == 0, "exit code")


API_KEY = "a" * 20 + "-limits-client-key-0123"
# The forwarder fetches its access token from here: a closed local port, so that nothing leaves the host (the
# requests these checks make are answered by the relay itself).
NOWHERE = "http://127.0.0.1:9"


def api_config(tmp, name, api_port, metrics_port, extra_api=""):
    clients_file = os.path.join(tmp, "clients")
    with open(clients_file, "w") as f:
        f.write(f"bots {API_KEY}\n")
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
endpoints = ["ipc://{tmp}/{name}.sock"]
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
clients_file = "{clients_file}"
{extra_api}
[metrics]
listen = "127.0.0.1:{metrics_port}"
[state]
directory = "{tmp}/{name}-state"
[log]
level = "info"
"""


def wait_api_up(relay, metrics_port):
    """/metrics answers (/healthz says 503 while the forwarder has no access token, which these checks need not)."""
    wait_for(lambda: relay.proc.poll() is not None or get(metrics_port, "/metrics")[0] == 200, 15, "/metrics")
    expect(relay.proc.poll() is None, f"the relay exited: {relay.log_text()[-2000:]}")


def token_exchange(port, timeout=5):
    """(status, body) of the relay's own token endpoint, given this relay's client key."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = json.dumps({"appId": "102000000", "clientSecret": API_KEY})
        conn.request("POST", "/app/getAppAccessToken", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def exchanged(answer):
    status, body = answer
    return status == 200 and b'"access_token":' in body


def read_until(s, marker, timeout=5):
    """What `s` receives up to and with `marker` (b"" when the peer closes first)."""
    s.settimeout(timeout)
    got = b""
    while marker not in got:
        piece = s.recv(4096)
        if not piece:
            return b""
        got += piece
    return got


def websocket(port):
    s = idle_connection(port)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /websocket HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = read_until(s, b"\r\n\r\n")
    expect(head.startswith(b"HTTP/1.1 101 "), f"the upgrade got {head[:100]!r}")
    return s


def api_connection_caps(tmp, parts):
    api_port, metrics_port = free_port(), free_port()
    relay = Relay(tmp, api_config(tmp, "api-caps", api_port, metrics_port, "max_connections = 3"), name="api-caps")
    parts.append(relay)
    wait_api_up(relay, metrics_port)
    held = [idle_connection(api_port) for _ in range(3)]
    parts.extend(held)
    open_api = ("qq_relay_listener_connections", 'listener="api"')
    rejected = ("qq_relay_listener_rejected_total", 'listener="api",reason="max_connections"')
    wait_for(lambda: metrics(metrics_port).get(open_api) == 3, 5, "three api connections open")
    extra = idle_connection(api_port)
    parts.append(extra)
    expect(closed_by_peer(extra, 5), "the connection over api.max_connections was not closed")
    expect(metrics(metrics_port).get(rejected) == 1, "the rejection is not counted")
    expect(closed_by_peer(held[0], 0.2) is False, "a connection under the cap was closed")
    # An SDK bot's WebSocket takes the place of an idle connection, and holds it.
    held.pop().close()
    wait_for(lambda: metrics(metrics_port).get(open_api) == 2, 5, "the closed connection forgotten")
    bot = websocket(api_port)
    parts.append(bot)
    expect(metrics(metrics_port).get(open_api) == 3, "the WebSocket is not counted as a connection")
    extra = idle_connection(api_port)
    parts.append(extra)
    expect(closed_by_peer(extra, 5), "a connection over the cap, with a WebSocket open, was not closed")
    expect(metrics(metrics_port).get(rejected) == 2, "the second rejection is not counted")
    bot.close()
    wait_for(lambda: metrics(metrics_port).get(open_api) == 2, 5, "the WebSocket's place given back")
    answer = token_exchange(api_port)
    expect(exchanged(answer), f"under the cap again, the token exchange got {answer}")
    expect(relay.stop() == 0, "exit code")


def api_request_head_limit(tmp, parts):
    api_port, metrics_port = free_port(), free_port()
    relay = Relay(tmp, api_config(tmp, "api-head", api_port, metrics_port), name="api-head")
    parts.append(relay)
    wait_api_up(relay, metrics_port)
    s = idle_connection(api_port)
    parts.append(s)
    s.sendall(b"GET /users/@me HTTP/1.1\r\nHost: relay\r\nX-Padding: " + b"p" * (20 * 1024) + b"\r\n\r\n")
    answer = read_until(s, b"\r\n\r\n")
    expect(answer.startswith(b"HTTP/1.1 431 "), f"a 20 KiB head got {answer[:100]!r}")
    expect(b"Connection: close" in answer, "the connection is kept after a head over the limit")
    expect(exchanged(token_exchange(api_port)), "the listener answers no more after a head over the limit")
    expect(relay.stop() == 0, "exit code")


def api_claimed_bodies_reserve_nothing(tmp, parts):
    api_port, metrics_port = free_port(), free_port()
    relay = Relay(tmp, api_config(tmp, "api-claims", api_port, metrics_port), name="api-claims")
    parts.append(relay)
    wait_api_up(relay, metrics_port)
    pid = relay.proc.pid
    before = virtual_memory_kib(pid)
    count, claimed = 200, 16_000_000  # each head claims a body just under api.max_body (16 MiB), then sends none
    head = (f"POST /app/getAppAccessToken HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
            f"Expect: 100-continue\r\nContent-Length: {claimed}\r\n\r\n").encode()
    for _ in range(count):
        s = idle_connection(api_port)
        parts.append(s)
        s.sendall(head)
        # The relay asks for the body once it has read the head: every head is read when every socket has this.
        expect(read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 100 "), "no 100 Continue to a head")
    grown_mib = (virtual_memory_kib(pid) - before) / 1024
    print(f"  {count} heads claiming {claimed} bytes each: address space grew by {grown_mib:.1f} MiB", flush=True)
    expect(grown_mib < 50, f"the relay reserved what Content-Length claimed: {grown_mib:.0f} MiB more")
    expect(relay.stop() == 0, "exit code")


def api_client_not_reading(tmp, parts):
    """A client that pipelines requests and never reads the answers cannot keep its connection (and its place
    under api.max_connections) for longer than api.request_timeout once its answers stop moving."""
    api_port, metrics_port = free_port(), free_port()
    relay = Relay(tmp, api_config(tmp, "api-unread", api_port, metrics_port, "request_timeout = 2"),
                  name="api-unread")
    parts.append(relay)
    wait_api_up(relay, metrics_port)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    parts.append(s)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", api_port))
    # Each answered 401 by the relay itself; far more answer bytes than the sockets' buffers hold.
    request = b"GET /users/@me HTTP/1.1\r\nHost: relay\r\n\r\n"
    s.settimeout(1)
    sent = 0
    try:
        for _ in range(200):
            s.sendall(request * 500)
            sent += 500
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass  # the relay stopped reading (its answers wait for this client), or already closed
    stalled = time.monotonic()
    open_api = ("qq_relay_listener_connections", 'listener="api"')
    wait_for(lambda: metrics(metrics_port).get(open_api) == 0, 15, f"the connection closed (after {sent} requests)")
    print(f"  {sent} requests sent unread: closed at most {time.monotonic() - stalled:.1f} s after the sends stalled",
          flush=True)
    expect(exchanged(token_exchange(api_port)), "the listener answers no more")
    expect(relay.stop() == 0, "exit code")


def api_descriptor_exhaustion(tmp, parts):
    api_port, metrics_port = free_port(), free_port()
    limit = (DESCRIPTOR_LIMIT, DESCRIPTOR_LIMIT)
    relay = Relay(tmp, api_config(tmp, "api-nofile", api_port, metrics_port), name="api-nofile",
                  preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
    parts.append(relay)
    wait_api_up(relay, metrics_port)
    expect(exchanged(token_exchange(api_port)), "a token exchange before the exhaustion")
    exhaust_descriptors(relay, api_port, "api", parts)
    started = time.monotonic()
    answer = token_exchange(api_port)
    elapsed = time.monotonic() - started
    print(f"  a token exchange after closing some: answered in {elapsed * 1000:.0f} ms", flush=True)
    expect(exchanged(answer), f"answer {answer}")
    expect(elapsed < 1.0, f"the token exchange took {elapsed:.2f} s")
    errors = metrics(metrics_port).get(("qq_relay_listener_accept_errors_total", 'listener="api"'), 0)
    expect(errors >= 1, "accept errors not counted")
    expect("api: cannot accept connections" in relay.log_text(), "the accept failure is not logged")
    expect(relay.stop() == 0, "exit code")


def main():
    checks = Checks()
    tmp = workdir()
    parts = []
    try:
        checks.run("a connection over max_connections is closed at once and counted",
                   lambda: connection_caps(tmp, parts))
        checks.run("body buffers grow with the bytes that arrive, not with what Content-Length claims",
                   lambda: claimed_bodies_reserve_nothing(tmp, parts))
        checks.run(f"at the open-file limit ({DESCRIPTOR_LIMIT}): no spinning, a small log, a POST answered within 1 s",
                   lambda: descriptor_exhaustion(tmp, parts))
        checks.run("api: a connection or WebSocket over api.max_connections is closed at once and counted",
                   lambda: api_connection_caps(tmp, parts))
        checks.run("api: a request head over 16 KiB is answered 431 and the connection closed",
                   lambda: api_request_head_limit(tmp, parts))
        checks.run("api: body buffers grow with the bytes that arrive, not with what Content-Length claims",
                   lambda: api_claimed_bodies_reserve_nothing(tmp, parts))
        checks.run("api: a client that pipelines requests and reads no answer is closed after api.request_timeout",
                   lambda: api_client_not_reading(tmp, parts))
        checks.run(f"api: at the open-file limit ({DESCRIPTOR_LIMIT}): no spinning, a small log, a token exchange "
                   "answered within 1 s", lambda: api_descriptor_exhaustion(tmp, parts))
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
