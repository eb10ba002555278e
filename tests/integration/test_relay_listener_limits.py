#!/usr/bin/python3
"""The HTTP listeners' connection caps and their behaviour at the open-file limit: a connection over
webhook.max_connections / metrics.max_connections is closed at once and counted; with every descriptor taken
by idle connections the relay neither spins nor floods its log, and once some are closed it answers a valid
signed POST within a second."""
import http.client
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


def descriptor_exhaustion(tmp, parts):
    webhook_port, metrics_port = free_port(), free_port()
    limit = (DESCRIPTOR_LIMIT, DESCRIPTOR_LIMIT)
    relay = Relay(tmp, config(tmp, "nofile", webhook_port, metrics_port, "request_timeout = 60"), name="nofile",
                  preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
    parts.append(relay)
    wait_up(relay, metrics_port)
    client = WebhookClient(webhook_port)
    expect(client.post(EVENT)[0] == 200, "a POST before the exhaustion")
    pid = relay.proc.pid
    # Twice the limit: the relay takes what it can, the rest wait in the listening socket's backlog.
    idle = [idle_connection(webhook_port) for _ in range(2 * DESCRIPTOR_LIMIT)]
    parts.extend(idle)
    # Out of descriptors (EMFILE), or libwebsockets' table (sized from the same limit) full, whichever comes first.
    wait_for(lambda: descriptor_count(pid) >= DESCRIPTOR_LIMIT or "webhook: cannot accept" in relay.log_text(), 10,
             "every descriptor of the relay taken")
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
    # Close all but the first 16 (which the relay holds, still idle): descriptors free up, the backlog drains.
    for s in idle[16:]:
        s.close()
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
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
