"""What the subscriber-client tests share: reading a client's journal, and CURVE keys from `keygen`."""
import json
import os
import subprocess
import time

import zmq

from harness import RELAY_BIN, expect, wait_for


def journal_lines(path):
    """The complete lines of a client's journal (a line cut short by a kill is left out)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


def generated_numbers(lines):
    """The seq_no of every generated event in a journal, in order: 1, 2, 3... when nothing is lost or repeated."""
    return [json.loads(l["body"])["d"]["seq_no"] for l in lines if l["topic"] == "C2C_MESSAGE_CREATE"]


def keygen(prefix):
    """(public, secret) Z85 keys written by `qq-gateway-relay keygen PREFIX`."""
    result = subprocess.run([RELAY_BIN, "keygen", prefix], capture_output=True, text=True)
    expect(result.returncode == 0, f"keygen failed: {result.stderr}")
    with open(prefix + ".pub") as f:
        public = f.read().strip()
    with open(prefix + ".key") as f:
        secret = [line for line in f.read().splitlines() if not line.startswith("#")][0]
    return public, secret


def wait_started(sim, journal, timeout=20):
    """Sends START events until the client has journaled one: a client that has just started (or a relay that has
    just restarted) may not have joined yet, and a single event sent too early would be lost to it."""
    def started():
        sim.post("/_sim/send", {"shard": 0, "t": "START", "d": {}})
        time.sleep(0.3)
        return journal_lines(journal)
    wait_for(started, timeout, f"a client to journal its first event in {journal}")


def dash_keypair():
    """A client key pair whose public key begins with '-' (a Z85 digit), so that every run checks that the
    clients take such a key on their command line rather than mistaking it for an option."""
    while True:
        public, secret = zmq.curve_keypair()
        if public.startswith(b"-"):
            return public.decode(), secret.decode()
