#!/usr/bin/python3
"""The C++ example client (clients/cpp, relay-subscriber-cpp) in the scenarios the Python client is tested in:
killed and restarted mid-stream, deliberately slow (test_relay_replay.py), and catching up after a restart with
CURVE off and on (test_relay_curve.py); each ends with every event exactly once. Also, against a fake relay: its
journal lines and stderr are byte for byte the Python client's, a catch-up request without an answer ends it
after 5 s, and SIGTERM/SIGINT end it with exit code 0.

QQ_CPP_CLIENT_BIN is the binary (default build/bin/relay-subscriber-cpp). QQ_CLIENT_UNDER_TEST=python runs the
same scenarios against clients/python/relay_subscriber.py instead, which checks the checks."""
import json
import os
import signal
import subprocess
import threading
import time

import zmq

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from fake_cluster import two_relays_exactly_once
from client_journal import (flood_a_slow_client, generated_numbers, journal_lines, keygen, kill_mid_stream_and_restart,
                            wait_started)

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON_CLIENT = ["/usr/bin/python3", os.path.join(SOURCE, "clients", "python", "relay_subscriber.py")]
CPP_CLIENT = [os.environ.get("QQ_CPP_CLIENT_BIN", "build/bin/relay-subscriber-cpp")]
UNDER_TEST = os.environ.get("QQ_CLIENT_UNDER_TEST", "cpp")
CLIENT = PYTHON_CLIENT if UNDER_TEST == "python" else CPP_CLIENT
# The Python client has no SIGTERM handler (it dies of the signal); Ctrl-C is its clean stop.
STOP_SIGNALS = (signal.SIGINT,) if UNDER_TEST == "python" else (signal.SIGTERM, signal.SIGINT)


class Clients:
    """Starts clients with stderr to JOURNAL.err; kills what a failed check left running."""

    def __init__(self):
        self.procs = []

    def start(self, command, pub, replay, journal, *extra):
        proc = subprocess.Popen([*command, pub, replay, "--journal", journal, *extra],
                                stdout=subprocess.DEVNULL, stderr=open(journal + ".err", "w"))
        self.procs.append(proc)
        return proc

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def stop(proc, sig=STOP_SIGNALS[0]):
    """A clean stop: the signal, then exit code 0 within 2 s."""
    proc.send_signal(sig)
    try:
        code = proc.wait(2)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running 2 s after {sig.name}") from None
    expect(code == 0, f"exit code {code} after {sig.name}")


class FakeRelay:
    """A PUB that publishes nothing and a ROUTER that answers catch-up requests from a fixed list of retained
    (topic, body, meta) messages, like the relay's replay endpoint; or, with answer=False, never answers."""

    def __init__(self, tmp, name, retained=(), answer=True):
        self.pub_endpoint, self.replay_endpoint = f"ipc://{tmp}/{name}-pub.sock", f"ipc://{tmp}/{name}-replay.sock"
        self.retained = [(t, b, m, json.loads(m)["relay_seq"]) for t, b, m in retained]
        self.context = zmq.Context()
        self.pub = self.context.socket(zmq.PUB)
        self.pub.bind(self.pub_endpoint)
        self.router = self.context.socket(zmq.ROUTER)
        self.router.bind(self.replay_endpoint)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True) if answer else None
        if self.thread:
            self.thread.start()

    def _serve(self):
        while self.running:
            if not self.router.poll(50):
                continue
            identity, *envelope, request = self.router.recv_multipart()
            since = json.loads(request)["since"]
            batch = [m for m in self.retained if m[3] > since][: json.loads(request).get("max", 1000)]
            header = {"count": len(batch), "next": batch[-1][3] if batch else since,
                      "first_available": self.retained[0][3] if self.retained else None,
                      "last_available": self.retained[-1][3] if self.retained else None}
            frames = [identity, *envelope, json.dumps(header).encode()]
            for topic, body, meta, _ in batch:
                frames += [topic, body, meta]
            self.router.send_multipart(frames)

    def close(self):
        self.running = False
        if self.thread:
            self.thread.join()
        for socket in (self.pub, self.router):
            socket.close(0)
        self.context.term()


# What the fake relay retains: relay_seq 12..16 (11 is "no longer retained"). Bodies with escapes, control
# characters, non-ASCII text and bytes that are not UTF-8; metadata with JSON escapes and nulls.
AWKWARD = [
    (b"GROUP_AT_MESSAGE_CREATE", '{"op":0,"s":3,"t":"GROUP_AT_MESSAGE_CREATE","id":"E:1","d":{"content":" 你好 \\"q\\" '
     '\\\\ \\u0001 😀","id":12345678901234567890}}'.encode(),
     b'{"v":1,"app_id":"1","source":"gateway","shard":[0,1],"session_id":"s","seq":3,"event_id":"E:1",'
     b'"relay_seq":12,"received_at_us":1}'),
    (b"relay.shard", b'{"shard":[0,1],"state":"ready","session_id":null,"close_code":0,"reason":"","will_resume":false}',
     b'{"v":1,"app_id":"1","source":"relay","shard":[0,1],"session_id":null,"seq":null,"event_id":null,'
     b'"relay_seq":13,"received_at_us":2}'),
    ("话题.X".encode(), bytes(range(0, 0x21)) + b'\x7f"\\/ \xff \xc3( \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80 '
     b'\xf0\x9f\x98 \xc0\xaf \x80\xbf ok \xe4\xb8',
     b'{"v":1,"app_id":"1","source":"webhook","shard":null,"session_id":null,"seq":null,'
     b'"event_id":"ID:\\u4e2d\\"\\\\\\/\\ud83d\\ude00\\t\\u0007","relay_seq":14,"received_at_us":3}'),
    (b"EMPTY", b"", b'{"v":1,"app_id":"1","source":"gateway","shard":[0,1],"session_id":"s","seq":4,'
     b'"event_id":"","relay_seq":15,"received_at_us":4}'),
    (b"END", b'{"op":0,"s":5,"t":"END","d":{}}', b'{"v":1,"app_id":"1","source":"gateway","shard":[0,1],'
     b'"session_id":"s","seq":5,"event_id":null,"relay_seq":16,"received_at_us":5}'),
]
SEED = b'{"relay_seq": 10, "topic": "SEED", "source": "gateway", "event_id": null, "body": "{}"}\n'


def main():
    checks = Checks()
    tmp = workdir()
    clients = Clients()
    parts = [clients]
    if not os.access(CLIENT[0], os.X_OK):
        print(f"FAIL the client under test is not there: {CLIENT[0]} (build relay-subscriber-cpp)")
        print("0 passed, 1 failed")
        raise SystemExit(1)
    try:
        # Started first, so that the 5 s it waits in vain overlap the simulator's and the relay's start.
        silent = FakeRelay(tmp, "silent", answer=False)
        parts.append(silent)
        for name in ("timeout", "stopped"):
            with open(f"{tmp}/{name}.jsonl", "wb") as f:
                f.write(SEED)
        started = time.monotonic()
        unanswered = clients.start(CLIENT, silent.pub_endpoint, silent.replay_endpoint, f"{tmp}/timeout.jsonl")
        waiting = clients.start(CLIENT, silent.pub_endpoint, silent.replay_endpoint, f"{tmp}/stopped.jsonl")

        sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "2000")
        parts.append(sim)
        pub, replay = f"ipc://{tmp}/pub.sock", f"ipc://{tmp}/replay.sock"
        config = relay_config(sim, pub, f"{tmp}/state").replace(
            "[publish]\n", f'[publish]\nreplay_endpoint = "{replay}"\nsndhwm = 200\n')
        relay = Relay(tmp, config)
        parts.insert(0, relay)

        def same_journal_as_python():
            fake = FakeRelay(tmp, "fake", AWKWARD)
            parts.append(fake)
            journals = {}
            for name, command in (("python", PYTHON_CLIENT), ("under-test", CLIENT)):
                journal = f"{tmp}/{name}.jsonl"
                with open(journal, "wb") as f:
                    f.write(SEED + b'{"relay_seq": 11, "topic": "TORN')  # a line cut short by a crash
                journals[name] = journal
                proc = clients.start(command, fake.pub_endpoint, fake.replay_endpoint, journal)
                wait_for(lambda: len(journal_lines(journal)) == 1 + len(AWKWARD), 10, f"the {name} client")
                time.sleep(0.2)  # nothing more may come
                stop(proc, signal.SIGINT)
            contents = {}
            for name, journal in journals.items():
                with open(journal, "rb") as f, open(journal + ".err", "rb") as e:
                    contents[name] = (f.read(), e.read())
            expect(contents["python"][1] == b"lost for good: relay_seq 11..11 (no longer retained)\n",
                   f"the Python client's stderr: {contents['python'][1]!r}")
            for (want, got) in zip(contents["python"][0].splitlines(), contents["under-test"][0].splitlines()):
                expect(want == got, f"journal lines differ:\n  python: {want!r}\n  cpp:    {got!r}")
            expect(contents["python"] == contents["under-test"], f"journals or stderr differ: {contents}")
        checks.run("journal lines and messages are byte for byte the Python client's", same_journal_as_python)

        def two_relays():
            def start(journal, relays):
                proc = subprocess.Popen([*CLIENT, *[f"--relay={pub},{replay}" for pub, replay in relays],
                                         "--journal", journal], stdout=subprocess.DEVNULL,
                                        stderr=open(journal + ".err", "w"))
                clients.procs.append(proc)
                return proc
            two_relays_exactly_once(tmp, start)
        checks.run("with two relays (--relay twice): every event once, each relay's gap filled from that relay",
                   two_relays)

        def unanswered_catch_up():
            stop(waiting, STOP_SIGNALS[-1])
            code = unanswered.wait(10)
            elapsed = time.monotonic() - started
            with open(f"{tmp}/timeout.jsonl.err") as f:
                err = f.read()
            expect(code == 1, f"exit code {code}: {err}")
            expect("no answer from the replay endpoint" in err, err)
            expect(4.5 < elapsed < 8, f"gave up after {elapsed:.1f} s")
        checks.run("a catch-up request without an answer ends the client after 5 s; a signal stops it while it "
                   "waits", unanswered_catch_up)

        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY")

        def generated():
            return sim.get("/_sim/state")["shards"][0]["generated"]

        def killed_and_restarted():
            journal = f"{tmp}/killed.jsonl"

            def cut_a_line_short():
                with open(journal, "ab") as f:
                    f.write(b'{"relay_seq": 1')  # as if killed in the middle of a line
            second = kill_mid_stream_and_restart(
                sim, journal, lambda j: clients.start(CLIENT, pub, replay, j), while_down=cut_a_line_short)
            stop(second)
        checks.run("a subscriber killed and restarted mid-stream ends with every event exactly once",
                   killed_and_restarted)

        def slow_subscriber_recovers():
            journal = f"{tmp}/slow.jsonl"
            proc = clients.start(CLIENT, pub, replay, journal, "--rcvhwm", "50", "--delay", "0.002")
            wait_started(sim, journal)
            flood_a_slow_client(sim, journal)
            stop(proc)
        checks.run("a deliberately slow subscriber (small HWM) recovers every event", slow_subscriber_recovers)

        def catch_up_after_restart(name, pub_endpoint, replay_endpoint, *curve):
            """test_relay_curve.py's scenario: killed once it has started, 200 events while it is down, restarted."""
            journal = f"{tmp}/{name}.jsonl"
            base = generated()
            proc = clients.start(CLIENT, pub_endpoint, replay_endpoint, journal, *curve)
            # START sent until one arrives: a relay that has just started may not be back on the gateway yet.
            wait_started(sim, journal, 10)
            proc.kill()
            proc.wait()
            sim.post("/_sim/generate", {"count": 200, "rate": 0})
            wait_for(lambda: generated() == base + 200, 10, "200 events generated while the client is down")
            proc = clients.start(CLIENT, pub_endpoint, replay_endpoint, journal, *curve)
            wait_for(lambda: len(generated_numbers(journal_lines(journal))) >= 200, 20, "200 events caught up")
            # An END after them on the same shard: once it is journaled, any repeat would be too.
            sim.post("/_sim/send", {"shard": 0, "t": "END", "d": {}})
            wait_for(lambda: any(l["topic"] == "END" for l in journal_lines(journal)), 10, "the END marker")
            numbers = generated_numbers(journal_lines(journal))
            expect(numbers == list(range(base + 1, base + 201)), f"{len(numbers)} of 200, first {numbers[:3]}")
            seqs = [l["relay_seq"] for l in journal_lines(journal)]
            expect(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "relay_seq has holes in the journal")
            stop(proc, STOP_SIGNALS[-1])

        checks.run("the client catches up after a restart, CURVE off",
                   lambda: catch_up_after_restart("plain", pub, replay))

        def curve_on():
            expect(relay.stop() == 0, "the plain relay's exit code")
            parts.remove(relay)
            server_public, _ = keygen(f"{tmp}/relay")
            client_public, client_secret = keygen(f"{tmp}/client")
            with open(f"{tmp}/authorized_keys", "w") as f:
                f.write(f"{client_public} bot-1\n")
            curve_pub, curve_replay = f"ipc://{tmp}/curve-pub.sock", f"ipc://{tmp}/curve-replay.sock"
            curve_config = relay_config(sim, curve_pub, f"{tmp}/state").replace("[publish]\n", f"""[publish]
replay_endpoint = "{curve_replay}"
curve_secret_key_file = "relay.key"
curve_authorized_keys = "authorized_keys"
""")
            curve_relay = Relay(tmp, curve_config, name="relay-curve")
            parts.insert(0, curve_relay)
            wait_for(lambda: "CURVE on: 1 authorized client key(s)" in curve_relay.log_text(), 10, "CURVE on")
            catch_up_after_restart("curve", curve_pub, curve_replay, "--server-key", server_public,
                                   "--public-key", client_public, "--secret-key", client_secret)
            expect(curve_relay.stop() == 0, "the CURVE relay's exit code")
        checks.run("the client catches up after a restart over CURVE", curve_on)
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
