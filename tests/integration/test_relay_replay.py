#!/usr/bin/python3
"""Catch-up through the replay endpoint, with the example client clients/python/relay_subscriber.py: a subscriber
killed and restarted mid-stream, and a deliberately slow one, both end with every event exactly once.
Also: malformed replay requests, and relay_seq strictly increasing across relay restarts (graceful and kill -9)."""
import json
import os
import signal
import subprocess

import zmq

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from client_journal import flood_a_slow_client, kill_mid_stream_and_restart, wait_started
from fake_cluster import two_relays_exactly_once

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENT = os.path.join(SOURCE, "clients", "python", "relay_subscriber.py")


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "2000")
    pub, replay = f"ipc://{tmp}/pub.sock", f"ipc://{tmp}/replay.sock"
    config = relay_config(sim, pub, f"{tmp}/state").replace(
        "[publish]\n", f'[publish]\nreplay_endpoint = "{replay}"\nsndhwm = 200\njournal = true\n')
    relays = [Relay(tmp, config)]
    clients = []
    watcher = Subscriber(pub)

    def client(journal, *extra):
        proc = subprocess.Popen(["/usr/bin/python3", CLIENT, pub, replay, "--journal", journal, *extra],
                                stdout=subprocess.DEVNULL, stderr=open(journal + ".err", "w"))
        clients.append(proc)
        return proc

    def generated():
        return sim.get("/_sim/state")["shards"][0]["generated"]

    def connection():
        shards = sim.get("/_sim/state")["shards"]
        return shards[0]["conn"] if shards and shards[0]["connected"] else None

    def wait_reconnected(old):
        """Waits until the shard is back on a connection other than `old` (the relay before the restart)."""
        wait_for(lambda: connection() not in (None, old), 30, "the restarted relay's shard")

    class Closer:
        def close(self):
            for proc in clients:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

    try:
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY")
        watcher.sync(sim)

        def killed_and_restarted():
            kill_mid_stream_and_restart(sim, f"{tmp}/killed.jsonl", client)
        checks.run("a subscriber killed and restarted mid-stream ends with every event exactly once",
                   killed_and_restarted)

        def slow_subscriber_recovers():
            journal = f"{tmp}/slow.jsonl"
            client(journal, "--rcvhwm", "50", "--delay", "0.002")
            wait_started(sim, journal)
            flood_a_slow_client(sim, journal)
        checks.run("a deliberately slow subscriber (small HWM) recovers every event", slow_subscriber_recovers)

        def two_relays():
            def start(journal, relays):
                flags = [f"--relay={pub},{replay}" for pub, replay in relays]
                proc = subprocess.Popen(["/usr/bin/python3", CLIENT, *flags, "--journal", journal],
                                        stdout=subprocess.DEVNULL, stderr=open(journal + ".err", "w"))
                clients.append(proc)
                return proc
            two_relays_exactly_once(tmp, start)
        checks.run("with two relays (--relay twice): every event once, each relay's gap filled from that relay",
                   two_relays)

        def malformed_requests():
            context = zmq.Context()
            req = context.socket(zmq.REQ)
            req.setsockopt(zmq.RCVTIMEO, 5000)
            req.setsockopt(zmq.LINGER, 0)
            req.connect(replay)
            for request, wanted in ((b"not json", "not a JSON object"), (b"[1]", "not a JSON object"),
                                    (b'{"max":5}', '"since"'), (b'{"since":-1}', '"since"'),
                                    (b'{"since":"5"}', '"since"'), (b'{"since":1,"max":0}', '"max"')):
                req.send(request)
                answer = req.recv_multipart()
                expect(len(answer) == 1 and wanted in json.loads(answer[0])["error"], f"{request}: {answer}")
            req.send_multipart([b'{"since":0}', b"extra"])
            expect("one frame" in json.loads(req.recv_multipart()[0])["error"], "a two-frame request was accepted")
            req.send(b'{"since":0,"max":2}')
            answer = req.recv_multipart()
            header = json.loads(answer[0])
            expect(header["count"] == 2 and len(answer) == 7, f"a REQ client got {header}")
            expect(json.loads(answer[3])["relay_seq"] == header["first_available"], "not from the oldest")
            expect(header["next"] == json.loads(answer[6])["relay_seq"], "next is not the last relay_seq returned")
            req.close()
            context.term()
            expect(relays[-1].proc.poll() is None, "the relay died")
        checks.run("malformed replay requests get an error reply; REQ clients work", malformed_requests)

        def relay_seq_survives_restarts():
            before = max(m["relay_seq"] for _, _, m in watcher.events())
            old = connection()
            expect(relays[-1].stop() == 0, "exit code")
            with open(f"{tmp}/state/relay-state.json") as f:
                saved = json.load(f)
            expect(saved["relay_seq"] == saved["relay_seq_reserved"] >= before, f"after a clean stop: {saved}")
            relays.append(Relay(tmp, config, name="relay-2"))
            wait_reconnected(old)
            watcher.sync(sim)
            probes = [m["relay_seq"] for t, _, m in watcher.events() if t == "PROBE"]
            expect(probes[-1] > saved["relay_seq"], "relay_seq went back after a clean stop")
            expect(probes[-1] < saved["relay_seq"] + 100, "relay_seq jumped after a clean stop")
            last = max(m["relay_seq"] for _, _, m in watcher.events())
            old = connection()
            relays[-1].proc.send_signal(signal.SIGKILL)
            relays[-1].proc.wait()
            relays.append(Relay(tmp, config, name="relay-3"))
            wait_reconnected(old)
            watcher.sync(sim)
            probes = [m["relay_seq"] for t, _, m in watcher.events() if t == "PROBE"]
            expect(probes[-1] > last, "relay_seq went back after kill -9")
            seqs = [m["relay_seq"] for _, _, m in watcher.events()]
            expect(seqs == sorted(set(seqs)), "relay_seq is not strictly increasing across the restarts")
            expect("did not stop cleanly" in relays[-1].log_text(), "the crash is not reported")
        checks.run("relay_seq strictly increases across a graceful restart and a kill -9", relay_seq_survives_restarts)

        def replay_across_restarts():
            # Two restarts later (one of them a kill -9), the journal still answers for the first run's messages.
            context = zmq.Context()
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(replay)
            first_run = sorted(m["relay_seq"] for _, _, m in watcher.events())[:5]
            dealer.send_multipart([b"", json.dumps({"since": 0, "max": 5}).encode()])
            expect(dealer.poll(5000), "no answer")
            answer = dealer.recv_multipart()[1:]
            header = json.loads(answer[0])
            expect(header["count"] == 5 and header["first_available"] <= first_run[0], f"journal: {header}")
            replayed = [json.loads(answer[i]) for i in range(3, len(answer), 3)]
            expect([m["relay_seq"] for m in replayed] == sorted(m["relay_seq"] for m in replayed), "out of order")
            # The messages are the ones first published, byte for byte.
            seen = {m["relay_seq"]: (t, b, m) for t, b, m in watcher.events()}
            for i, meta in enumerate(replayed):
                if meta["relay_seq"] in seen:
                    topic, body, _ = seen[meta["relay_seq"]]
                    expect((answer[1 + 3 * i], answer[2 + 3 * i]) == (topic.encode(), body), "a replay differs")
            dealer.close()
            context.term()
            expect("journal: " in relays[-1].log_text() and "message(s) loaded" in relays[-1].log_text(), "no load")
        checks.run("with the journal on, replay answers for messages from before the restarts", replay_across_restarts)
    finally:
        tear_down(checks, tmp, Closer(), watcher, *relays, sim)
    checks.finish()


if __name__ == "__main__":
    main()
