#!/usr/bin/python3
"""CURVE on the publish and replay endpoints: keys from `qq-gateway-relay keygen`, only listed clients get in
(plain and unknown clients get nothing), the authorized keys are re-read on SIGHUP, and the example client
catches up over an encrypted replay connection."""
import json
import os
import signal
import subprocess
import time

import zmq

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from client_journal import dash_keypair, keygen, wait_started

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENT = os.path.join(SOURCE, "clients", "python", "relay_subscriber.py")


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "2000")
    parts = [sim]
    try:
        server_public, _ = keygen(f"{tmp}/relay")
        allowed_public, allowed_secret = dash_keypair()
        late_public, late_secret = keygen(f"{tmp}/late")
        stranger_public, stranger_secret = keygen(f"{tmp}/stranger")
        authorized = f"{tmp}/authorized_keys"
        with open(authorized, "w") as f:
            f.write(f"# bots allowed to read the stream\n{allowed_public} bot-1\n")
        pub, replay = f"ipc://{tmp}/pub.sock", f"ipc://{tmp}/replay.sock"
        config = relay_config(sim, pub, f"{tmp}/state").replace("[publish]\n", f"""[publish]
replay_endpoint = "{replay}"
curve_secret_key_file = "relay.key"
curve_authorized_keys = "authorized_keys"
""")
        relay = Relay(tmp, config)
        parts.insert(0, relay)
        wait_for(lambda: "CURVE on: 1 authorized client key(s)" in relay.log_text(), 10, "CURVE on")
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"],
                 30, "the shard READY")
        context = zmq.Context()

        def subscriber(public=None, secret=None):
            socket = context.socket(zmq.SUB)
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.SUBSCRIBE, b"")
            if public:
                socket.curve_serverkey = server_public.encode()
                socket.curve_publickey = public.encode()
                socket.curve_secretkey = secret.encode()
            socket.connect(pub)
            return socket

        def receives(socket, seconds=3.0):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                sim.post("/_sim/send", {"shard": 0, "t": "PROBE", "d": {}})
                if socket.poll(100):
                    return True
            return False

        def only_listed_keys():
            listed = subscriber(allowed_public, allowed_secret)
            plain = subscriber()
            stranger = subscriber(stranger_public, stranger_secret)
            expect(receives(listed), "the listed client got nothing")
            expect(not receives(plain, 1.5), "a plain client got messages")
            expect(not receives(stranger, 1.5), "an unknown key got messages")
            for socket in (listed, plain, stranger):
                socket.close()
        checks.run("only clients whose keys are listed receive anything", only_listed_keys)

        def sighup_reloads_keys():
            late = subscriber(late_public, late_secret)
            expect(not receives(late, 1.0), "a key not yet listed got messages")
            with open(authorized, "a") as f:
                f.write(f"{late_public} bot-2\n")
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "SIGHUP: 2 authorized client key(s)" in relay.log_text(), 10, "the reload")
            late.close()
            late = subscriber(late_public, late_secret)  # a new handshake is checked against the new list
            expect(receives(late, 5.0), "a key added on SIGHUP still gets nothing")
            late.close()
        checks.run("SIGHUP re-reads the authorized keys", sighup_reloads_keys)

        def encrypted_catch_up():
            journal = f"{tmp}/curve.jsonl"
            args = ["--journal", journal, "--server-key", server_public, "--public-key", allowed_public,
                    "--secret-key", allowed_secret]
            proc = subprocess.Popen(["/usr/bin/python3", CLIENT, pub, replay, *args], stderr=subprocess.DEVNULL)
            try:
                wait_started(sim, journal)
                proc.kill()
                proc.wait()
                base = sim.get("/_sim/state")["shards"][0]["generated"]
                sim.post("/_sim/generate", {"count": 200, "rate": 0})
                # No subscriber of its own here: the events have left the simulator before the client restarts.
                wait_for(lambda: sim.get("/_sim/state")["shards"][0]["generated"] == base + 200, 10,
                         "200 events generated while the client is down")
                proc = subprocess.Popen(["/usr/bin/python3", CLIENT, pub, replay, *args], stderr=subprocess.DEVNULL)
                wait_for(lambda: sum('"C2C_MESSAGE_CREATE"' in line for line in open(journal)) == 200, 20,
                         "200 events caught up over CURVE")
            finally:
                proc.kill()
                proc.wait()
            # A replay request with an unknown key gets no answer at all.
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.curve_serverkey = server_public.encode()
            dealer.curve_publickey = stranger_public.encode()
            dealer.curve_secretkey = stranger_secret.encode()
            dealer.connect(replay)
            dealer.send_multipart([b"", json.dumps({"since": 0}).encode()])
            expect(not dealer.poll(1500), "the replay endpoint answered an unknown key")
            dealer.close()
        checks.run("the example client catches up over CURVE; unknown keys get no replay", encrypted_catch_up)
        context.term()
        checks.run("SIGTERM exits 0", lambda: expect(relay.stop() == 0, "exit code"))
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
