#!/usr/bin/python3
"""The replay endpoint under abuse: clients that ask for the largest replies and never read them cannot grow the
relay past its reply budget (publish.replay_max_bytes) or stall its loop, and the refusals are counted; a request
frame over 4 KiB makes ZeroMQ drop the connection unanswered while other clients are still served."""
import json
import os
import shutil
import subprocess
import threading
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from client_journal import generated_numbers, journal_lines
from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from metrics_client import metrics
from webhook_client import free_port

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENTS = {
    "python": ["/usr/bin/python3", os.path.join(SOURCE, "clients", "python", "relay_subscriber.py")],
    "node": [shutil.which("node") or "node", os.path.join(SOURCE, "clients", "node", "relay_subscriber.mjs")],
    "cpp": [os.environ.get("QQ_CPP_CLIENT_BIN", "build/bin/relay-subscriber-cpp")],
}
EVENTS = 200
EVENT_BYTES = 32 * 1024
MAX_REPLY = 2 * 1024 * 1024
MAX_CLIENT = 4 * 1024 * 1024
MAX_TOTAL = 8 * 1024 * 1024
REPLY_HEADER_ROOM = 160  # k_header_bytes in daemon/publish/replay_server.cpp
ABUSER_ASKS = 90  # below the relay's queue of answers per client (k_queued_answers = 100)
ABUSERS = 3
REQUESTS_EACH = 200
# What the process may add beyond the reply bytes it holds: allocator slack and libzmq's per-connection buffers.
# Derived from the budget (a freed reply's pages may stay with the allocator), not a measured figure.
RSS_SLACK = MAX_TOTAL + 8 * 1024 * 1024


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def dropped(m, reason):
    return m.get(("qq_relay_replay_replies_dropped_total", f'reason="{reason}"'), 0)


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "2000")
    # ipc: a Unix socket's kernel buffers are small and fixed; TCP's grow (autotuning) and would take reply bytes
    # off the budget at their own pace.
    pub, replay, metrics_port = f"ipc://{tmp}/pub.sock", f"ipc://{tmp}/replay.sock", free_port()
    config = relay_config(sim, pub, f"{tmp}/state").replace(
        "[publish]\n", f'[publish]\nreplay_endpoint = "{replay}"\nreplay_max_reply_bytes = {MAX_REPLY}\n'
                       f'replay_max_client_bytes = {MAX_CLIENT}\nreplay_max_bytes = {MAX_TOTAL}\n'
                       ) + f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
    # Under AddressSanitizer, freed memory waits in a quarantine (256 MiB by default) before it is reused, so RSS
    # would grow with the replies' churn rather than with what the relay holds; measure without it.
    asan = os.environ.get("ASAN_OPTIONS", "")
    relay = Relay(tmp, config, env=dict(os.environ, ASAN_OPTIONS=f"{asan}:quarantine_size_mb=0".lstrip(":")))
    watcher = Subscriber(pub)
    context = zmq.Context()

    def dealer(connect=True, **options):
        socket = context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        for option, value in options.items():
            socket.setsockopt(getattr(zmq, option), value)
        if connect:
            socket.connect(replay)
        return socket

    def ask(socket, since=0, max_messages=10000, timeout_ms=5000):
        socket.send_multipart([b"", json.dumps({"since": since, "max": max_messages}).encode()])
        expect(socket.poll(timeout_ms), "no answer from the replay endpoint")
        frames = socket.recv_multipart()[1:]
        return json.loads(frames[0]), frames

    def probe_latency(timeout=5.0):
        """Seconds from the simulator sending a probe to the subscriber receiving it."""
        started = time.monotonic()
        frame = sim.post("/_sim/send", {"shard": 0, "t": "PROBE", "d": {}})["sent"][0]["frame"].encode()
        while not any(body == frame for _, body, _ in watcher.snapshot()):
            expect(time.monotonic() - started < timeout, f"no probe event within {timeout} s")
            time.sleep(0.001)
        return time.monotonic() - started

    try:
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY")
        watcher.sync(sim)
        sim.post("/_sim/generate", {"shard": 0, "count": EVENTS, "rate": 0, "size": EVENT_BYTES})
        wait_for(lambda: len(watcher.seq_nos(0)) >= EVENTS, 30, f"{EVENTS} large events published")

        # A well-behaved client takes the largest reply once, so that the baseline includes a reply's worth of
        # allocator state; the baseline is then the relay at rest.
        normal = dealer()
        header, frames = ask(normal)
        page = sum(len(frame) for frame in frames[1:])
        expect(header["count"] > 0 and MAX_REPLY - 2 * EVENT_BYTES < page <= MAX_REPLY, f"a full page: {header}")
        wait_for(lambda: metrics(metrics_port)[("qq_relay_replay_queued_bytes", "")] == 0, 10, "the page freed")
        baseline = rss_bytes(relay.proc.pid)
        quiet = [probe_latency() for _ in range(5)]

        def abusers_cannot_grow_the_relay_or_stall_it():
            abusers = [dealer(RCVHWM=1, RCVBUF=4096) for _ in range(ABUSERS)]
            try:
                abuse_with(abusers)
            finally:
                for socket in abusers:
                    socket.close()

        def abuse_with(abusers):
            request = [b"", json.dumps({"since": 0, "max": 10000}).encode()]
            peak = [baseline]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], rss_bytes(relay.proc.pid))
                    time.sleep(0.01)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            latencies = []
            try:
                # One abuser alone reaches its own budget; with the others, the total is reached.
                for group in (abusers[:1], abusers[1:]):
                    wanted = metrics(metrics_port)[("qq_relay_replay_requests_total", "")] + len(group) * REQUESTS_EACH
                    for socket in group:
                        for _ in range(REQUESTS_EACH):
                            socket.send_multipart(request)
                    deadline = time.monotonic() + 60
                    while metrics(metrics_port)[("qq_relay_replay_requests_total", "")] < wanted:
                        expect(time.monotonic() < deadline, "the relay did not take every request within 60 s")
                        latencies.append(probe_latency())  # the gateway keeps streaming meanwhile
                latencies += [probe_latency() for _ in range(5)]
            finally:
                done.set()
                sampler.join()
            m = metrics(metrics_port)
            print(f"  RSS baseline {baseline >> 20} MiB, peak {peak[0] >> 20} MiB (bound +{(MAX_TOTAL + RSS_SLACK) >> 20}"
                  f" MiB); probe latency quiet max {max(quiet) * 1000:.1f} ms, under abuse max "
                  f"{max(latencies) * 1000:.1f} ms over {len(latencies)} probes; held "
                  f"{int(m[('qq_relay_replay_queued_bytes', '')])} B; dropped client_busy "
                  f"{dropped(m, 'client_busy'):.0f} relay_busy {dropped(m, 'relay_busy'):.0f} "
                  f"peer_full {dropped(m, 'peer_full'):.0f}", flush=True)
            expect(peak[0] <= baseline + MAX_TOTAL + RSS_SLACK,
                   f"RSS grew from {baseline >> 20} to {peak[0] >> 20} MiB with {MAX_TOTAL >> 20} MiB of reply budget")
            expect(m[("qq_relay_replay_queued_bytes", "")] <= MAX_TOTAL, "more reply bytes held than the budget")
            expect(dropped(m, "client_busy") > 0, "no reply refused for a client's budget")
            expect(dropped(m, "relay_busy") > 0, "no reply refused for the total budget")
            expect(max(latencies) < 1.0, f"the loop stalled: a probe took {max(latencies):.2f} s")
            # A client that reads still gets an answer (busy while the abusers hold the budget), and once they go,
            # full pages again.
            header, _ = ask(normal)
            expect("count" in header or header["error"].startswith("busy: "), f"a reading client got {header}")
            for socket in abusers:
                socket.close()
            wait_for(lambda: metrics(metrics_port)[("qq_relay_replay_queued_bytes", "")] == 0, 10,
                     "the abusers' replies freed once they are gone")
            header, _ = ask(normal)
            expect(header.get("count", 0) > 0, f"after the abusers left: {header}")
            expect(relay.proc.poll() is None, "the relay died")
        checks.run("clients that never read cannot grow the relay past its reply budget or stall the gateway",
                   abusers_cannot_grow_the_relay_or_stall_it)

        def example_clients_wait_out_a_busy_relay():
            """Abusers fill the whole reply budget; each example client, catching up from relay_seq 0, is answered
            busy and asks again until the abusers go, then has every event."""
            request = [b"", json.dumps({"since": 0, "max": 10000}).encode()]
            smallest_event = min(len(topic) + len(body) + len(meta) for topic, body, meta in watcher.snapshot()
                                 if topic == b"C2C_MESSAGE_CREATE")
            for name, command in CLIENTS.items():
                if name == "node" and not os.path.isdir(os.path.join(SOURCE, "clients", "node", "node_modules")):
                    print("  node: clients/node/node_modules is missing (scripts/install-deps.sh); not run")
                    continue
                abusers = [dealer(RCVHWM=1, RCVBUF=4096) for _ in range(ABUSERS)]
                journal = f"{tmp}/{name}.jsonl"
                with open(journal, "w") as f:
                    f.write(json.dumps({"relay_seq": 0, "topic": "", "source": "relay", "event_id": None,
                                        "body": ""}) + "\n")
                client = None
                asked = [0] * len(abusers)
                try:
                    def top_up():
                        # One more request per abuser, so that whatever the kernel takes off the budget (an
                        # abuser's libzmq reads its first reply whole) is taken again. Each abuser asks at most
                        # ABUSER_ASKS times: past the relay's per-client queue of answers its replies are dropped,
                        # and the slots held by unread busy answers would leave freed budget unclaimed.
                        for i, socket in enumerate(abusers):
                            if asked[i] < ABUSER_ASKS:
                                socket.send_multipart(request, flags=zmq.NOBLOCK)
                                asked[i] += 1

                    def budget_full():
                        # Full means no generated event fits in what is left (the relay keeps REPLY_HEADER_ROOM
                        # for a reply's header): otherwise the client is sent one event per page, never busy.
                        top_up()
                        room = MAX_TOTAL - metrics(metrics_port)[("qq_relay_replay_queued_bytes", "")]
                        return room < smallest_event + REPLY_HEADER_ROOM
                    wait_for(budget_full, 30, "the abusers holding the whole reply budget")
                    client = subprocess.Popen([*command, pub, replay, "--journal", journal],
                                              stdout=subprocess.DEVNULL, stderr=open(journal + ".err", "w"))
                    def busy_answer_seen():
                        top_up()
                        return "asking again" in open(journal + ".err").read()
                    wait_for(busy_answer_seen, 30, f"{name}: a busy answer")
                    for socket in abusers:
                        socket.close()
                    wait_for(lambda: len(generated_numbers(journal_lines(journal))) >= EVENTS, 20,
                             f"{name}: every event caught up")
                    expect(generated_numbers(journal_lines(journal))[:EVENTS] == list(range(1, EVENTS + 1)),
                           f"{name}: events missing or out of order")
                    expect(client.poll() is None, f"{name} exited: {open(journal + '.err').read()}")
                finally:
                    for socket in abusers:
                        socket.close()
                    if client:
                        client.kill()
                        client.wait()
                wait_for(lambda: metrics(metrics_port)[("qq_relay_replay_queued_bytes", "")] == 0, 10,
                         "the abusers' replies freed")
        checks.run("the example clients (Python, Node, C++) ask again while the relay is busy, then catch up",
                   example_clients_wait_out_a_busy_relay)

        def oversized_request_drops_the_connection():
            before = metrics(metrics_port)[("qq_relay_replay_requests_total", "")]
            big = dealer(connect=False)
            monitor = big.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
            monitor.setsockopt(zmq.RCVTIMEO, 5000)
            big.connect(replay)

            def next_event():
                try:
                    return recv_monitor_message(monitor)["event"]
                except zmq.Again:
                    return None  # nothing within RCVTIMEO
            expect(next_event() == zmq.EVENT_CONNECTED, "not connected")
            big.send_multipart([b"", b'{"since":0,"pad":"' + b"x" * (1 << 20) + b'"}'])
            expect(next_event() == zmq.EVENT_DISCONNECTED, "the relay kept a connection that sent 1 MiB")
            expect(not big.poll(500), "the oversized request was answered")
            header, _ = ask(normal, max_messages=2)
            expect(header["count"] == 2, f"another client after the oversized request: {header}")
            after = metrics(metrics_port)[("qq_relay_replay_requests_total", "")]
            expect(after == before + 1, f"the oversized request was read: {before} -> {after} requests")
            big.disable_monitor()
            monitor.close()
            big.close()
        checks.run("a 1 MiB request frame drops that connection unanswered; other clients are served",
                   oversized_request_drops_the_connection)
        normal.close()
    finally:
        context.destroy(linger=0)
        tear_down(checks, tmp, watcher, relay, sim)
    checks.finish()


if __name__ == "__main__":
    main()
