#!/usr/bin/python3
"""The Node.js client clients/node/relay_subscriber.mjs, in the scenarios the Python client is tested in: killed
and restarted mid-stream, and deliberately slow (tiny HWM), both ending with every event exactly once; and catching
up after a restart, plain and over CURVE. Its journal is byte for byte the Python client's.

Runs the `node` found on PATH; clients/node/node_modules comes from scripts/install-deps.sh (npm ci)."""
import os
import shutil
import signal
import subprocess

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from fake_cluster import two_relays_exactly_once
from client_journal import (dash_keypair, flood_a_slow_client, generated_numbers, journal_lines, keygen,
                            kill_mid_stream_and_restart, wait_started)

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENT = os.path.join(SOURCE, "clients", "node", "relay_subscriber.mjs")
PYTHON_CLIENT = os.path.join(SOURCE, "clients", "python", "relay_subscriber.py")
NODE = shutil.which("node")


def main():
    checks = Checks()
    if not NODE or not os.path.isdir(os.path.join(SOURCE, "clients", "node", "node_modules", "zeromq")):
        checks.run("node and clients/node/node_modules are installed (scripts/install-deps.sh)",
                   lambda: expect(False, f"node: {NODE}; run scripts/install-deps.sh"))
        checks.finish()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "2000")
    pub, replay = f"ipc://{tmp}/pub.sock", f"ipc://{tmp}/replay.sock"
    config = relay_config(sim, pub, f"{tmp}/state").replace(
        "[publish]\n", f'[publish]\nreplay_endpoint = "{replay}"\nsndhwm = 200\n')
    relays = [Relay(tmp, config)]
    clients = []
    watcher = Subscriber(pub)

    def client(journal, *extra, python=False):
        command = ["/usr/bin/python3", PYTHON_CLIENT] if python else [NODE, CLIENT]
        proc = subprocess.Popen([*command, pub, replay, "--journal", journal, *extra],
                                stdout=subprocess.DEVNULL, stderr=open(journal + ".err", "a"))
        clients.append(proc)
        return proc

    def kill(proc):
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def generated():
        return sim.get("/_sim/state")["shards"][0]["generated"]

    def errors(journal):
        with open(journal + ".err") as f:
            return f.read()

    class Closer:
        def close(self):
            for proc in clients:
                if proc.poll() is None:
                    kill(proc)

    try:
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY")
        watcher.sync(sim)

        def killed_and_restarted():
            journal = f"{tmp}/killed.jsonl"
            kill_mid_stream_and_restart(sim, journal, client)
            expect("lost for good" not in errors(journal), errors(journal))
        checks.run("the Node client killed and restarted mid-stream ends with every event exactly once",
                   killed_and_restarted)

        def slow_subscriber_recovers():
            journal = f"{tmp}/slow.jsonl"
            client(journal, "--rcvhwm", "50", "--delay", "0.002")
            wait_started(sim, journal)
            flood_a_slow_client(sim, journal)
        checks.run("a deliberately slow Node client (small HWM) recovers every event", slow_subscriber_recovers)

        def catch_up(name, keys=()):
            """The CURVE test's scenario: one event, the client killed, 200 events, the client restarted."""
            journal = f"{tmp}/{name}.jsonl"
            base = generated()
            proc = client(journal, *keys)
            wait_started(sim, journal)
            kill(proc)
            sim.post("/_sim/generate", {"count": 200, "rate": 0})
            wait_for(lambda: generated() == base + 200, 10, "200 events generated while the client is down")
            proc = client(journal, *keys)
            wait_for(lambda: len(generated_numbers(journal_lines(journal))) >= 200, 20, "200 events caught up")
            kill(proc)
            lines = journal_lines(journal)
            expect(lines[0]["topic"] == "START", f"the journal starts with {lines[0]}")
            expect(generated_numbers(lines) == list(range(base + 1, base + 201)), "not exactly the 200 events")
            seqs = [l["relay_seq"] for l in lines]
            expect(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "relay_seq has holes in the journal")
            expect(errors(journal) == "", errors(journal))
            return journal

        def plain_catch_up():
            journal = catch_up("plain")
            # The Python client, started from the same position, writes the same bytes.
            with open(journal, "rb") as f:
                node_bytes = f.read()
            python_journal = f"{tmp}/python.jsonl"
            with open(python_journal, "wb") as f:
                f.write(node_bytes[: node_bytes.index(b"\n") + 1])
            proc = client(python_journal, python=True)
            wait_for(lambda: os.path.getsize(python_journal) >= len(node_bytes), 20, "the Python client's catch-up")
            kill(proc)
            with open(python_journal, "rb") as f:
                python_bytes = f.read()
            expect(python_bytes[: len(node_bytes)] == node_bytes, "the journals differ")
        checks.run("the Node client catches up after a restart; its journal is the Python client's, byte for byte",
                   plain_catch_up)

        def answer_after_a_long_start():
            # What a start from a journal of hundreds of MB does: the event loop is busy reading for longer than the
            # reply timeout, then the first catch-up request goes out. zeromq's receiveTimeout counts from the loop's
            # cached clock and expired at once: "no answer from the replay endpoint" (found by the 60-minute soak).
            script = """
const { Subscriber } = await import(process.argv[1]);
const subscriber = new Subscriber(process.argv[2], process.argv[3]);
await subscriber.ask(0, 1); // connected and answered once
const start = performance.now();
while (performance.now() - start < 6000) {} // a long synchronous journal read, past the 5 s reply timeout
try {
  const [header, messages] = await subscriber.ask(0, 5);
  console.log(JSON.stringify({ count: header.count, messages: messages.length }));
} catch (error) {
  console.log(JSON.stringify({ error: error.message }));
}
subscriber.close();
"""
            result = subprocess.run([NODE, "--input-type=module", "-e", script,
                                     os.path.join(SOURCE, "clients", "node", "index.mjs"), pub, replay],
                                    capture_output=True, text=True, timeout=60)
            expect(result.returncode == 0, f"exit {result.returncode}: {result.stderr[-600:]}")
            expect(result.stdout.strip() == '{"count":5,"messages":5}', result.stdout + result.stderr[-600:])
        checks.run("a catch-up request right after the event loop was blocked for 6 s still gets its answer",
                   answer_after_a_long_start)

        def curve_catch_up():
            server_public, _ = keygen(f"{tmp}/relay")
            client_public, client_secret = dash_keypair()
            with open(f"{tmp}/authorized_keys", "w") as f:
                f.write(f"{client_public} node-client\n")
            curve_config = config.replace("[publish]\n", """[publish]
curve_secret_key_file = "relay.key"
curve_authorized_keys = "authorized_keys"
""")
            old_conn = sim.get("/_sim/state")["shards"][0]["conn"]
            expect(relays[-1].stop() == 0, "the plain relay's exit code")
            relays.append(Relay(tmp, curve_config, name="relay-curve"))
            wait_for(lambda: "CURVE on: 1 authorized client key(s)" in relays[-1].log_text(), 10, "CURVE on")
            wait_for(lambda: (lambda s: s["connected"] and s["conn"] != old_conn)(sim.get("/_sim/state")["shards"][0]),
                     30, "the CURVE relay's shard connection")
            catch_up("curve", ("--server-key", server_public, "--public-key", client_public,
                               "--secret-key", client_secret))
            expect(relays[-1].proc.poll() is None, "the relay died")
        checks.run("the Node client catches up over CURVE", curve_catch_up)
        def two_relays():
            def start(journal, relays):
                proc = subprocess.Popen([NODE, CLIENT, *[f"--relay={pub},{replay}" for pub, replay in relays],
                                         "--journal", journal], stdout=subprocess.DEVNULL,
                                        stderr=open(journal + ".err", "w"))
                clients.append(proc)
                return proc
            two_relays_exactly_once(tmp, start)
        checks.run("with two relays (--relay twice): every event once, each relay's gap filled from that relay",
                   two_relays)
        checks.run("SIGTERM exits 0", lambda: expect(relays[-1].stop() == 0, "exit code"))
    finally:
        tear_down(checks, tmp, Closer(), watcher, *relays, sim)
    checks.finish()


if __name__ == "__main__":
    main()
