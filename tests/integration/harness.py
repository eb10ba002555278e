"""Real processes on loopback for the integration tests: the simulator, the relay and ZeroMQ subscribers."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import zmq
from zmq.utils.monitor import recv_monitor_message

RELAY_BIN = os.environ.get("QQ_RELAY_BIN", "build/bin/qq-gateway-relay")
SIM_BIN = os.environ.get("QQ_SIM_BIN", "build/bin/qq-gateway-sim")
TEST_DATA = os.environ.get("QQ_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
FIXTURES = os.path.join(TEST_DATA, "fixtures")


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Sim:
    """The simulator. With `ca_file` it serves HTTPS and wss:// (pass --tls-cert and --tls-key in args), and
    the control requests here trust that CA."""

    def __init__(self, workdir, *args, ca_file=None):
        self.port_file = os.path.join(workdir, "sim.port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)  # a previous simulator's port must not be mistaken for this one's
        self.log = open(os.path.join(workdir, "sim.log"), "w")
        self.proc = subprocess.Popen([SIM_BIN, "--port-file", self.port_file, "--quiet", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.port = int(wait_for(lambda: os.path.exists(self.port_file) and open(self.port_file).read().strip(),
                                 10, "the simulator's port file"))
        self.base = f"{'https' if ca_file else 'http'}://127.0.0.1:{self.port}"
        self.ssl_context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=10, context=self.ssl_context) as response:
            return json.loads(response.read())

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)

    def pause(self):
        """Freezes the simulator (SIGSTOP): connections stay open and nothing is answered."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    close = stop


def relay_config(sim, endpoint, state_dir, extra_gateway="", extra_bot="", secret="sim-secret"):
    return f"""
[bot]
app_id = "102000000"
client_secret = "{secret}"
intents = ["GUILDS", "PUBLIC_GUILD_MESSAGES", "GROUP_AND_C2C_EVENT"]
{extra_bot}
[gateway]
api_base = "{sim.base}"
token_url = "{sim.base}/app/getAppAccessToken"
{extra_gateway}
[publish]
endpoints = ["{endpoint}"]
[state]
directory = "{state_dir}"
[log]
level = "debug"
"""


class Relay:
    def __init__(self, workdir, config_text, *args, name="relay", env=None, preexec_fn=None):
        self.config_path = os.path.join(workdir, f"{name}.toml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([RELAY_BIN, "--config", self.config_path, *args],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn)

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.log.close()
        return code

    def close(self):
        """Kills a relay that a failed check left running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Subscriber:
    """Collects every three-frame message on a background thread."""

    def __init__(self, endpoint, topic=b""):
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.SUBSCRIBE, topic)
        self.socket.setsockopt(zmq.RCVTIMEO, 100)
        # Completed ZMTP handshakes, read on the caller's thread: a restarted relay's PUB is joined when it rises.
        self.monitor = self.socket.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.handshakes = 0
        self.socket.connect(endpoint)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                frames = self.socket.recv_multipart()
            except zmq.Again:
                continue
            with self.lock:
                self.messages.append(frames)

    def sync(self, sim, shard=0, attempts=40):
        """PUB/SUB joins asynchronously: send probe events through the relay until one arrives."""
        for _ in range(attempts):
            frame = sim.post("/_sim/send", {"shard": shard, "t": "PROBE", "d": {}})["sent"][0]["frame"].encode()
            deadline = time.monotonic() + 0.25
            while time.monotonic() < deadline:
                if any(body == frame for _, body, _ in self.snapshot()):
                    return
                time.sleep(0.01)
        raise AssertionError("the subscriber never received a probe event")

    def wait_handshakes(self, count, timeout):
        """Waits until the subscriber has completed `count` handshakes with a publisher since it was created."""
        deadline = time.monotonic() + timeout
        while self.handshakes < count:
            left = deadline - time.monotonic()
            if left <= 0 or not self.monitor.poll(int(left * 1000)):
                raise AssertionError(f"timed out after {timeout} s waiting for handshake {count} "
                                     f"(have {self.handshakes})")
            if recv_monitor_message(self.monitor)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.handshakes += 1

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def events(self):
        return [(t.decode(), body, json.loads(meta)) for t, body, meta in self.snapshot()]

    def seq_nos(self, shard):
        """d.seq_no of the simulator's generated events (C2C_MESSAGE_CREATE) from `shard`, in arrival order."""
        return [json.loads(body)["d"]["seq_no"] for topic, body, meta in self.events()
                if topic == "C2C_MESSAGE_CREATE" and meta["shard"][0] == shard]

    def shard_states(self, shard):
        """The relay.shard messages about `shard`, decoded, in arrival order."""
        return [json.loads(body) for topic, body, _ in self.events()
                if topic == "relay.shard" and json.loads(body)["shard"][0] == shard]

    def close(self):
        self.running = False
        self.thread.join()
        self.socket.disable_monitor()
        self.monitor.close(0)
        self.socket.close(0)
        self.context.term()


class Checks:
    """Counts checks so that the run ends with the plain 'N passed, N failed' line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, function):
        started = time.monotonic()
        try:
            function()
            self.passed += 1
            print(f"PASS {name} ({time.monotonic() - started:.1f} s)", flush=True)
        except Exception as error:  # noqa: BLE001 - report every failure and go on
            self.failed += 1
            print(f"FAIL {name}: {error!r}", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed or not self.passed else 0)


def expect(condition, message="expectation failed"):
    if not condition:
        raise AssertionError(message)


def tear_down(checks, tmp, *parts):
    """Closes every process and socket of a test; keeps the logs when a check failed."""
    for part in parts:
        part.close()
    if checks.failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"logs kept in {tmp}")


def workdir():
    return tempfile.mkdtemp(prefix="qq-relay-test-")
