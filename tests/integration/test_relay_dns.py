#!/usr/bin/python3
"""Host names are looked up off the relay's event loop, with the system's real getaddrinfo.

The relay runs in a mount namespace of its own (unshare -m) where /etc/resolv.conf names a small DNS server of
this test on a 127.x address and /etc/hosts knows only localhost. The simulator advertises its gateway as
ws://gateway.test:PORT, so every shard connection looks that name up. The DNS server answers (A 127.0.0.1),
or says NXDOMAIN, or stays silent (the resolver then waits timeout x attempts, 8 s here).

- While one shard's reconnect is stuck resolving, the other shard's events still reach a ZeroMQ subscriber
  within 2 s and /healthz answers: a lookup on the loop thread would freeze both for the whole 8 s.
- When DNS answers again, the stuck shard reconnects and resumes.
- A name that does not exist is a connect failure naming the host, retried with backoff.
- SIGTERM while a lookup is stuck exits 0 at once (the lookup's thread is left behind).
SKIP only when a mount namespace cannot be made here (unshare or mount refused).
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import harness
from harness import Checks, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from webhook_client import free_port

WAIT = 25                  # generous: the suite also runs under AddressSanitizer on a loaded machine
PROMPT = 2.0               # an event or /healthz while a lookup is stuck: well under the 8 s stall
DNS_ADDRESS = f"127.53.{os.getpid() % 250 + 1}.1"  # port 53 (resolv.conf has no port): one address per run
RESOLV_CONF = f"nameserver {DNS_ADDRESS}\noptions timeout:4 attempts:2\n"


class DnsServer:
    """Answers A queries for the names in `records`, NODATA for their other types, NXDOMAIN for the rest; in
    silent mode it answers nothing and counts what it ignored."""

    def __init__(self, records):
        self.records = records
        self.silent = False
        self.ignored = 0
        self.queries = []
        self.lock = threading.Lock()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((DNS_ADDRESS, 53))
        self.socket.settimeout(0.1)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def set_silent(self, silent):
        with self.lock:
            self.silent = silent
            self.ignored = 0

    def ignored_count(self):
        with self.lock:
            return self.ignored

    def _run(self):
        while self.running:
            try:
                query, peer = self.socket.recvfrom(512)
            except socket.timeout:
                continue
            answer = self._answer(query)
            if answer:
                self.socket.sendto(answer, peer)

    def _answer(self, query):
        labels, end = [], 12
        while end < len(query) and query[end]:
            labels.append(query[end + 1:end + 1 + query[end]].decode(errors="replace").lower())
            end += query[end] + 1
        end += 5  # the root label, QTYPE, QCLASS
        if end > len(query):
            return None
        name = ".".join(labels)
        qtype = struct.unpack(">H", query[end - 4:end - 2])[0]
        with self.lock:
            self.queries.append(name)
            if self.silent:
                self.ignored += 1
                return None
        address = self.records.get(name)
        record = b""
        if address and qtype == 1:
            record = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(address)
        flags = 0x8180 if address else 0x8183  # a response, recursion available; NXDOMAIN for unknown names
        return query[:2] + struct.pack(">HHHHH", flags, 1, 1 if record else 0, 0, 0) + query[12:end] + record

    def close(self):
        self.running = False
        self.thread.join()
        self.socket.close()


def namespace_command(tmp):
    """The prefix that runs a command with this test's resolv.conf and hosts, or (None, why) when it cannot."""
    resolv, hosts = os.path.join(tmp, "resolv.conf"), os.path.join(tmp, "hosts")
    with open(resolv, "w") as f:
        f.write(RESOLV_CONF)
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n")
    script = f'mount --bind "{resolv}" /etc/resolv.conf && mount --bind "{hosts}" /etc/hosts && exec "$0" "$@"'
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
    try:
        probe = subprocess.run(prefix + ["cat", "/etc/resolv.conf"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    if probe.returncode != 0 or probe.stdout != RESOLV_CONF:
        return None, (probe.stderr.strip() or f"exit status {probe.returncode}")
    return prefix, None


def start_relay(tmp, prefix, sim, name, extra=""):
    """A harness.Relay whose binary runs inside the namespace (exec keeps the pid, so signals reach it)."""
    wrapper = os.path.join(tmp, f"{name}-in-namespace.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec " + " ".join(f"'{p}'" for p in prefix) + f" '{harness.RELAY_BIN}' \"$@\"\n")
    os.chmod(wrapper, 0o755)
    real = harness.RELAY_BIN
    harness.RELAY_BIN = wrapper
    try:
        return harness.Relay(tmp, relay_config(sim, f"ipc://{tmp}/{name}.sock", f"{tmp}/{name}-state") + extra,
                             name=name)
    finally:
        harness.RELAY_BIN = real


def live_connection(sim, shard, count):
    for c in sim.get("/_sim/state")["connections"]:
        if c["shard"] == [shard, count] and c["session_id"] and c["attached"] and not c["closing"]:
            return c
    return None


def probe_arrives(sim, subscriber, shard, timeout):
    """Sends an event to `shard` through the simulator; the seconds it took to reach the subscriber."""
    started = time.monotonic()
    frame = sim.post("/_sim/send", {"shard": shard, "t": "PROBE", "d": {}})["sent"][0]["frame"].encode()
    while time.monotonic() - started < timeout:
        if any(body == frame for _, body, _ in subscriber.snapshot()):
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"a probe event to shard {shard} did not arrive within {timeout} s")


def healthz_answers(port, timeout):
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code  # 503 while a shard is down is an answer
    return status, time.monotonic() - started


def main():
    checks = Checks()
    tmp = workdir()
    prefix, why = namespace_command(tmp)
    if prefix is None:
        print(f"SKIP: no mount namespace with a test resolv.conf here ({why})")
        return
    parts = []
    dns = DnsServer({"gateway.test": "127.0.0.1"})
    parts.append(dns)
    try:
        sim = Sim(tmp, "--gateway-host", "gateway.test", "--shards", "2", "--max-concurrency", "2",
                  "--heartbeat-interval", "1000")
        parts.append(sim)
        port = free_port()
        relay = start_relay(tmp, prefix, sim, "relay", f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        parts.append(relay)
        subscriber = Subscriber(f"ipc://{tmp}/relay.sock")
        parts.append(subscriber)

        def both_shards_through_the_name():
            wait_for(lambda: live_connection(sim, 0, 2) and live_connection(sim, 1, 2), WAIT, "both shards READY")
            expect("gateway.test" in dns.queries, "the relay never asked the test's DNS server")
            subscriber.sync(sim, shard=1)
        checks.run("two shards connect through gateway.test (real getaddrinfo, the test's DNS server)",
                   both_shards_through_the_name)

        def other_shard_flows_while_one_is_stuck_resolving():
            stuck_conn = live_connection(sim, 0, 2)["id"]
            dns.set_silent(True)
            sim.post("/_sim/fault", {"shard": 0, "kind": "drop", "immediate": True})
            wait_for(lambda: dns.ignored_count() > 0, WAIT, "shard 0's reconnect asking the silent DNS server")
            stalled_at = time.monotonic()
            # Several probes across the stall: each one must be prompt.
            delays = [probe_arrives(sim, subscriber, 1, PROMPT) for _ in range(3)]
            status, health_delay = healthz_answers(port, PROMPT)
            expect(status in (200, 503), f"/healthz answered {status}")
            expect(time.monotonic() - stalled_at < 6, "the checks ran past the resolver's stall: they prove nothing")
            expect(live_connection(sim, 0, 2) is None, "shard 0 reconnected while DNS was silent")
            print(f"  while shard 0 was resolving: probes to shard 1 took {', '.join(f'{d:.3f}' for d in delays)} s,"
                  f" /healthz {health_delay:.3f} s (status {status})")
            dns.set_silent(False)
            wait_for(lambda: (c := live_connection(sim, 0, 2)) and c["id"] != stuck_conn, WAIT,
                     "shard 0 reconnected once DNS answered")
            expect(sim.get("/_sim/state")["resumes"] >= 1, "shard 0 did not resume its session")
            probe_arrives(sim, subscriber, 0, WAIT)
            expect(relay.proc.poll() is None, "the relay exited")
        checks.run("one shard stuck resolving does not stall the other, /healthz, or publishing; it resumes later",
                   other_shard_flows_while_one_is_stuck_resolving)

        os.makedirs(os.path.join(tmp, "missing"))
        missing_sim = Sim(os.path.join(tmp, "missing"), "--gateway-host", "missing.test")
        parts.append(missing_sim)
        missing = start_relay(tmp, prefix, missing_sim, "missing")
        parts.append(missing)

        def unknown_name_is_a_connect_failure_retried():
            line = "cannot resolve missing.test"
            wait_for(lambda: missing.log_text().count(line) >= 3, WAIT, f"three connect failures logged with '{line}'")
            expect(missing.proc.poll() is None, "the relay gave up")
            expect(live_connection(missing_sim, 0, 1) is None, "a connection reached the simulator")
            failures = [l for l in missing.log_text().splitlines() if line in l]
            print("\n".join(f"  {l.strip()}" for l in failures[:3]))
        checks.run("a name that does not exist is a connect failure naming it, retried with backoff",
                   unknown_name_is_a_connect_failure_retried)

        def stops_while_a_lookup_is_stuck():
            dns.set_silent(True)
            sim.post("/_sim/fault", {"shard": 1, "kind": "drop", "immediate": True})
            wait_for(lambda: dns.ignored_count() > 0, WAIT, "shard 1's reconnect asking the silent DNS server")
            started = time.monotonic()
            code = relay.stop(timeout=WAIT)
            took = time.monotonic() - started
            expect(code == 0, f"the relay exited with {code}")
            expect(took < 4, f"the stop took {took:.1f} s: it waited for the lookup (the resolver stalls 8 s)")
            expect("Sanitizer" not in relay.log_text(), "a sanitizer report in the relay's log")
            print(f"  SIGTERM with a lookup stuck: exit 0 after {took:.2f} s")
        checks.run("SIGTERM while a lookup is stuck exits 0 at once", stops_while_a_lookup_is_stuck)
    finally:
        tear_down(checks, tmp, *reversed(parts))
    checks.finish()


if __name__ == "__main__":
    sys.exit(main())
